/**
 * Where diffuse is installed: the folder of its package.json. A leaf module (node: imports only),
 * so the native loader can find the addon without importing anything that loads tensors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding diffuse's package.json (works from src/ via tsx and from dist/), or the
 * working directory when none is found above this file.
 * @example join(packageRoot(), 'configs', 'unet_reference.json')
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'diffuse') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/**
 * diffuse's version, from its package.json (`diffuse --version`, `diffuse info`).
 * @example packageVersion() // '0.1.0'
 */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
