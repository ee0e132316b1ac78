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
// A prebuilt addon comes first when there is one for this platform: prebuilds/<platform>-<arch>/
// diffuse_native.node (sharp's way with libvips). Where build/Release/diffuse_native.node is missing
// or does not load and that file loads, its folder (the addon and the shared libraries it carries,
// found through RPATH $ORIGIN) is copied to build/Release/, the loader's path, and nothing compiles.
// A stale addon (native/ or binding.gyp changed: someone is editing the C++) and
// DIFFUSE_BUILD_FROM_SOURCE=1 always build from source. No prebuilt ships yet (README, "Install").
//
//   node scripts/build_native.mjs           build if needed
//   node scripts/build_native.mjs --check   print what it would do and why; never builds
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
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

/** Why the addon file does not load, or null when it loads and answers nativeInfo() (checked in a child process: a broken file must not take this script down). */
function loadFailure(addonFile) {
  const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addonFile)}); if (typeof a.nativeInfo !== 'function') process.exit(3); a.nativeInfo();`], {
    encoding: 'utf8',
    env: { ...process.env, DIFFUSE_THREADS: '1' },
  });
  if (probe.status === 0) return null;
  return (probe.stderr || (probe.signal === null ? `exit ${probe.status}` : `killed by ${probe.signal}`)).trim().split('\n')[0];
}

/** The prebuilt addon's path for this platform (it may not exist). */
export function prebuiltPath(root, platform = process.platform, arch = process.arch) {
  return join(root, 'prebuilds', `${platform}-${arch}`, 'diffuse_native.node');
}

/**
 * Whether the addon under `root` must be built, and why; `prebuilt` names a loading prebuilt file
 * to copy into build/Release/ instead of building.
 * @returns {{ build: boolean, reason: string, prebuilt?: string }}
 */
export function buildDecision(root, env = process.env) {
  const addonFile = join(root, 'build', 'Release', 'diffuse_native.node');
  const fromSource = env.DIFFUSE_BUILD_FROM_SOURCE === '1';
  /** A reason to build: the prebuilt where one loads (and no source build was asked for), else node-gyp. */
  const orPrebuilt = (reason) => {
    const file = prebuiltPath(root);
    if (fromSource || !existsSync(file)) return { build: true, reason };
    const failure = loadFailure(file);
    if (failure !== null) return { build: true, reason: `${reason}, and the prebuilt ${file} does not load (${failure})` };
    return { build: false, reason: `${reason}; the prebuilt ${file} loads`, prebuilt: file };
  };
  if (!existsSync(addonFile)) return orPrebuilt(`${addonFile} does not exist`);
  const sources = Math.max(newestMtime(join(root, 'native')), newestMtime(join(root, 'binding.gyp')));
  if (sources > statSync(addonFile).mtimeMs) return { build: true, reason: `native/ or binding.gyp changed after ${addonFile} was built` };
  const failure = loadFailure(addonFile);
  if (failure !== null) return orPrebuilt(`${addonFile} does not load (${failure})`);
  return { build: false, reason: `${addonFile} is up to date with native/ and loads` };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const check = process.argv.includes('--check');
  const { build, reason, prebuilt } = buildDecision(root);
  if (check) {
    process.stdout.write(`${build ? 'build' : prebuilt !== undefined ? 'prebuilt' : 'up to date'}: ${reason}\n`);
  } else if (prebuilt !== undefined) {
    const addonFile = join(root, 'build', 'Release', 'diffuse_native.node');
    // The whole folder: a prebuilt carries its shared libraries (libdnnl.so.3) beside it, found through RPATH $ORIGIN.
    mkdirSync(dirname(addonFile), { recursive: true });
    for (const name of readdirSync(dirname(prebuilt))) copyFileSync(join(dirname(prebuilt), name), join(dirname(addonFile), name));
    process.stdout.write(`diffuse: using the prebuilt native addon: ${reason}; copied to ${dirname(addonFile)} (DIFFUSE_BUILD_FROM_SOURCE=1 npm rebuild diffuse builds from source)\n`);
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
