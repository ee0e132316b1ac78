/**
 * An app's view of the package: a small TypeScript program importing 'diffuse' (through a
 * node_modules link to this package, so `exports` and the .d.ts files are what resolve), compiled
 * with tsc --strict (plus noUncheckedIndexedAccess and exactOptionalPropertyTypes) against the
 * package's declarations, then run: it loads a bundled model by name, generates, writes a PNG,
 * reads diffuse/package.json, and aborts a long generation from a timer while an interval keeps
 * firing. The program prints what it saw; the test checks it. (skipLibCheck: the app's every use
 * of the package is checked against its .d.ts; checking the .d.ts files themselves doubles the
 * time and is what the package's own strict build does.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/io/package_root.js';
import { tempDir } from '../train/fixtures.js';

const APP = `
import { createRequire } from 'node:module';
import { DiffusionPipeline, AbortError, bundledModelPath, type GeneratedImages, type ProgressEvent } from 'diffuse';
import { generate } from 'diffuse/promises';

const pkg = createRequire(import.meta.url)('diffuse/package.json') as { name: string; version: string };
const pipe: DiffusionPipeline = await DiffusionPipeline.fromPretrained('mnist');
let steps = 0;
const images: GeneratedImages = await pipe.generate({ n: 2, classLabels: ['3', 7], steps: 2, seed: 0, onProgress: (e: ProgressEvent) => { steps = e.step; } });
await images.save('digits.png');
const first = images.at(0);
const png: Buffer = await first.toPng();

const controller = new AbortController();
let ticks = 0;
const interval = setInterval(() => { ticks++; }, 5);
setTimeout(() => controller.abort(), 300);
let aborted = '';
try {
  await pipe.generate({ n: 4, steps: 100000, seed: 1, signal: controller.signal });
} catch (e) {
  if (e instanceof AbortError) aborted = e.name;
  else throw e;
}
clearInterval(interval);
console.log(JSON.stringify({
  name: pkg.name, version: pkg.version, labels: images.classLabels, className: first.className, steps,
  png: png.subarray(1, 4).toString('latin1'), aborted, ticks, bundled: bundledModelPath('mnist') === pipe.path,
  promises: typeof generate,
}));
`;

describe('a strict TypeScript app importing diffuse', () => {
  it('compiles with tsc --strict against the .d.ts files, generates, and aborts from a timer without blocking the event loop', () => {
    const root = packageRoot();
    const dir = tempDir('app');
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'diffuse'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
      writeFileSync(join(dir, 'app.ts'), APP);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
          skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], outDir: 'out', noEmitOnError: true,
        },
        files: ['app.ts'],
      }));
      // The compiler's own messages are the failure message when the package's types do not fit.
      execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
      const out = execFileSync(process.execPath, [join('out', 'app.js')], { cwd: dir, encoding: 'utf8' });
      const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
      const ticks = r['ticks'] as number;
      const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
      assert.deepEqual(r, { ...r, name: 'diffuse', version, labels: [3, 7], className: '3', steps: 2, png: 'PNG', aborted: 'AbortError', bundled: true, promises: 'function' });
      assert.ok(ticks >= 20, `the interval fired ${ticks} times in the 300 ms before the abort`);
      assert.ok(readFileSync(join(dir, 'digits.png')).subarray(1, 4).toString('latin1') === 'PNG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
