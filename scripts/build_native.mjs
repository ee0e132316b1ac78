#!/usr/bin/env node
// npm's install script for the native addon (package.json "install"). It builds the addon with
// `node-gyp rebuild` only when build/Release/diffuse_native.node is missing, does not load, or is
// older than its sources (native/, binding.gyp); otherwise it leaves build/ alone.
//
// Why not plain "node-gyp rebuild": npm runs the install script again whenever it installs this
// folder, and `npx diffuse` / `npm exec diffuse` run inside the checkout do exactly that (npm links
// the checkout into its npx cache to run the package's own bin). `rebuild` deletes build/ first,
// so every such run rebuilt the addon for two minutes, and an interrupted one left the checkout
// without its addon. An up-to-date addon is never touched; `npm run build:native` still rebuilds
// on request.
//
//   node scripts/build_native.mjs           build if needed
//   node scripts/build_native.mjs --check   print what it would do and why; never builds
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

/** The newest modification time (ms) of a file or of the files under a folder. */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/**
 * Whether the addon under `root` must be built, and why.
 * @returns {{ build: boolean, reason: string }}
 */
export function buildDecision(root) {
  const addonFile = join(root, 'build', 'Release', 'diffuse_native.node');
  if (!existsSync(addonFile)) return { build: true, reason: `${addonFile} does not exist` };
  const sources = Math.max(newestMtime(join(root, 'native')), newestMtime(join(root, 'binding.gyp')));
  if (sources > statSync(addonFile).mtimeMs) return { build: true, reason: `native/ or binding.gyp changed after ${addonFile} was built` };
  // Load it in a child process (a broken file must not take this script down), as the library does.
  const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addonFile)}); if (typeof a.nativeInfo !== 'function') process.exit(3); a.nativeInfo();`], {
    encoding: 'utf8',
    env: { ...process.env, DIFFUSE_THREADS: '1' },
  });
  if (probe.status !== 0) return { build: true, reason: `${addonFile} does not load (${(probe.stderr || (probe.signal === null ? `exit ${probe.status}` : `killed by ${probe.signal}`)).trim().split('\n')[0]})` };
  return { build: false, reason: `${addonFile} is up to date with native/ and loads` };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const check = process.argv.includes('--check');
  const { build, reason } = buildDecision(root);
  if (check) {
    process.stdout.write(`${build ? 'build' : 'up to date'}: ${reason}\n`);
  } else if (!build) {
    process.stdout.write(`diffuse: native addon not rebuilt: ${reason} ('npm run build:native' rebuilds it)\n`);
  } else {
    process.stdout.write(`diffuse: building the native addon: ${reason}\n`);
    const r = spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
    if (r.error) {
      process.stderr.write(`diffuse: could not run node-gyp (${r.error.message}); run 'npm ci' or 'npm run build:native' in ${root}\n`);
      process.exit(1);
    }
    process.exit(r.status ?? 1);
  }
}
