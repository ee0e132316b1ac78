/** Where the diffusers reference vectors live: $DIFFUSE_VECTORS, else ../shared/vectors beside the repo. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/backend/native/loader.js';

export function vectorsDir(): string {
  const dir = process.env['DIFFUSE_VECTORS'] ?? join(packageRoot(), '..', 'shared', 'vectors');
  if (!existsSync(dir)) {
    throw new Error(`reference vectors not found at ${dir}: set DIFFUSE_VECTORS to the shared/vectors folder`);
  }
  return dir;
}
