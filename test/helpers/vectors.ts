/**
 * The diffusers reference vectors the tests use as their oracle: test/fixtures/diffusers in this
 * repository (see its README.md for how they were made), or $DIFFUSE_VECTORS where set. A test
 * that cannot find them fails, naming the path: they are part of the checkout, never optional.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/io/model_folder.js';

/** The folder that holds the vectors (it is checked where a file is read, not here). */
export const vectorsDir: string = process.env['DIFFUSE_VECTORS'] ?? join(packageRoot(), 'test', 'fixtures', 'diffusers');

/**
 * The path of one vectors file or folder (e.g. 'unet_small_cond'), after checking it exists.
 * Throws, naming the path, when it does not: a missing fixture is a failing test, not a skip.
 */
export function vectorPath(name: string): string {
  const path = join(vectorsDir, name);
  if (!existsSync(path)) {
    const where = process.env['DIFFUSE_VECTORS'] === undefined ? 'it is committed with the repository: restore it with `git checkout -- test/fixtures/diffusers`' : 'DIFFUSE_VECTORS points there: unset it to use test/fixtures/diffusers';
    throw new Error(`reference vectors not found: ${path} does not exist (${where})`);
  }
  return path;
}

/** Reads and parses one JSON vectors file (e.g. 'sampling_ddim.json'); throws naming the path when absent. */
export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(vectorPath(name), 'utf8')) as T;
}
