/**
 * Where the diffusers reference vectors live: $DIFFUSE_VECTORS, else ../shared/vectors beside the
 * repo. Tests that need them are skipped, with this reason, on a checkout that lacks them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/backend/native/loader.js';

const dir = process.env['DIFFUSE_VECTORS'] ?? join(packageRoot(), '..', 'shared', 'vectors');

/** The vectors folder, or null if this checkout has none. */
export const vectorsDir: string | null = existsSync(dir) ? dir : null;

/** A `skip` option for node:test: false when the vectors are present, else the reason. */
export const skipWithoutVectors: string | false = vectorsDir === null ? `reference vectors not found at ${dir} (set DIFFUSE_VECTORS)` : false;
