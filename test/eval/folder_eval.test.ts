/**
 * Evaluation on a user's own labelled folder, on a folder of coloured shapes made here (3 classes,
 * 16x16 RGB): the split is disjoint, complete and deterministic by seed; the feature net trains on
 * the training part only and classifies the held-out shapes far above chance; the floor is the
 * held-out floor part; fresh real shapes scored as samples pass the bars, noise fails them; a
 * small folder is warned about. Also the CLI: train-feature-net --data DIR then eval --data DIR,
 * and eval without --feature-net training one into the cache.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageFolder, type ImageFolderDataset } from '../../src/data/image_folder.js';
import { splitFolder, FOLDER_SPLIT } from '../../src/eval/folder_split.js';
import { evaluateOnFolder, folderEvalData, trainFolderFeatureNet, SMALL_FOLDER, type FolderEvalData, type FolderFeatureNet } from '../../src/eval/folder_eval.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { run as trainFeatureNetRun } from '../../src/cli/commands/train_feature_net.js';
import { run as evalRun } from '../../src/cli/commands/eval.js';
import { SHAPE_CLASSES, shapeImages, writeShapesFolder } from './shapes_folder.js';

/** A small net for speed: 32-d features. */
const SMALL_NET = { channels: [8, 16, 32], normNumGroups: 4 };
const PER_CLASS = 40;

async function captured<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const w = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)] as const;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    return { value: await fn(), stdout, stderr };
  } finally {
    process.stdout.write = w[0];
    process.stderr.write = w[1];
  }
}

describe('evaluation on a labelled image folder', () => {
  let root = '';
  let folder = '';
  let ds: ImageFolderDataset;
  let data: FolderEvalData;
  let ff: FolderFeatureNet;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-folder-eval-'));
    folder = join(root, 'shapes');
    await writeShapesFolder(folder, PER_CLASS, 1);
    ds = await loadImageFolder(folder, { imageSize: 16 });
    data = folderEvalData(ds, folder, 0);
    ff = trainFolderFeatureNet(data, { config: SMALL_NET, steps: 120, seed: 0 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('the split is disjoint, complete, per class 60/20/20 and deterministic by seed', () => {
    const s = splitFolder(ds, folder, 0);
    const all = [...s.train, ...s.reference, ...s.floor];
    assert.equal(new Set(all).size, ds.length, 'disjoint and complete');
    assert.equal(all.length, ds.length);
    for (const part of [s.reference, s.floor]) {
      for (let c = 0; c < 3; c++) assert.equal(Array.from(part).filter((i) => ds.get(i).label === c).length, FOLDER_SPLIT.reference * PER_CLASS);
    }
    const again = splitFolder(ds, folder, 0);
    assert.deepEqual([again.train, again.reference, again.floor, again.fingerprint], [s.train, s.reference, s.floor, s.fingerprint]);
    const other = splitFolder(ds, folder, 1);
    assert.notDeepEqual(other.floor, s.floor);
    assert.equal(other.fingerprint, s.fingerprint, 'the fingerprint is the file list, not the seed');
  });

  it('the feature net trains on the training part and classifies held-out shapes far above chance', () => {
    assert.equal(data.train.labels.length, 0.6 * 3 * PER_CLASS);
    assert.ok(ff.referenceAccuracy >= 0.9, `held-out accuracy ${ff.referenceAccuracy} (chance 0.33)`);
    assert.deepEqual(ff.net.config.numClasses, 3);
    assert.deepEqual([ff.net.config.imageSize, ff.net.config.inChannels], [16, 3]);
  });

  it('fresh real shapes pass the bars against the held-out floor; noise fails them; the small folder is warned about', () => {
    const n = data.floor.labels.length;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const per = n / 3;
    // Real images the folder never held: the same generator, another seed.
    const fresh = new Float32Array(n * 16 * 16 * 3);
    for (let c = 0; c < 3; c++) {
      const imgs = shapeImages(c, per, 1000 + c).toArray();
      for (let j = 0; j < per; j++) fresh.set(imgs.subarray(j * 768, (j + 1) * 768), (j * 3 + c) * 768);
    }
    const real = evaluateOnFolder({ images: new Tensor(fresh, [n, 16, 16, 3]), labels }, data, { featureNet: ff.net, cas: false, seed: 0 });
    assert.equal(real.real.n, n, 'the floor is the held-out floor part at the same n');
    assert.equal(real.folder.floorImages, n);
    assert.equal(real.reference.testImages, data.reference.labels.length);
    assert.ok(real.bar.fdRatio <= 5, `FD ratio ${real.bar.fdRatio}`);
    assert.ok(real.bar.precisionRatio >= 0.8 && real.bar.recallRatio >= 0.8, `precision ${real.bar.precisionRatio}, recall ${real.bar.recallRatio}`);
    assert.ok(real.bar.accuracyGap <= 0.02, `accuracy gap ${real.bar.accuracyGap}`);
    assert.equal(real.bar.pass, true, JSON.stringify(real.bar));
    // Uniform noise in [-1, 1].
    const u = new Generator(3).uniform([n, 16, 16, 3]).toArray();
    const noise = new Tensor(Float32Array.from(u, (v) => 2 * v - 1), [n, 16, 16, 3]);
    const bad = evaluateOnFolder({ images: noise, labels }, data, { featureNet: ff.net, cas: false, seed: 0 });
    assert.equal(bad.bar.pass, false);
    assert.ok(bad.bar.fdRatio > 5, `noise FD ratio ${bad.bar.fdRatio}`);
    // 24 floor images per set < 2 x 32 dimensions; 8 reference images per class < 50.
    assert.equal(real.warnings.length, 2, real.warnings.join('\n'));
    assert.match(real.warnings[0]!, new RegExp(`fewer than ${SMALL_FOLDER.minImagesPerDim * 32} \\(2 x the feature net's 32 dimensions\\)`));
    assert.match(real.warnings[1]!, /fewer than 50 held-out reference images in 3 class\(es\) \(disc: 8, square: 8, triangle: 8\)/);
  });

  it('CLI: train-feature-net --data DIR writes the net and its split; eval --data DIR --samples uses it; without --feature-net a cached net is trained once', async () => {
    const net = join(root, 'net');
    const t = await captured(() => trainFeatureNetRun(['--data', folder, '--out', net, '--steps', '60', '--seed', '0']));
    assert.match(t.stdout, /held-out accuracy [\d.]+% .* on .*shapes \(3 classes, 16x16x3; 72 training, 24 reference and 24 floor images\)/);
    const split = JSON.parse(readFileSync(join(net, 'data_split.json'), 'utf8')) as { seed: number; class_names: string[]; floor_images: number };
    assert.deepEqual([split.seed, split.class_names, split.floor_images], [0, [...SHAPE_CLASSES], 24]);
    // Real training-part images as the evaluated set.
    const e = await captured(() => evalRun(['--data', folder, '--real', '--feature-net', net, '--no-cas']));
    const report = JSON.parse(e.stdout) as { real: { n: number }; n: number; warnings: string[] };
    assert.deepEqual([report.n, report.real.n], [24, 24]);
    assert.match(e.stderr, /warning: FD and KID are estimated from/);
    // A net from another folder's split is refused.
    const other = join(root, 'other');
    await writeShapesFolder(other, 10, 2);
    await assert.rejects(evalRun(['--data', other, '--real', '--feature-net', net, '--no-cas']), /whose file list differs .* retrain it/);
    // No --feature-net: one is trained into the cache, then reused.
    const cache = join(root, 'cache');
    process.env['DIFFUSE_CACHE'] = cache;
    try {
      const first = await captured(() => evalRun(['--data', other, '--real', '--n', '6', '--no-cas']));
      assert.match(first.stderr, /no --feature-net: training one on .*other's training part/);
      const second = await captured(() => evalRun(['--data', other, '--real', '--n', '6', '--no-cas']));
      assert.match(second.stderr, /using the cached feature net/);
      assert.ok(existsSync(join(cache, 'feature-nets')));
    } finally {
      delete process.env['DIFFUSE_CACHE'];
    }
    await assert.rejects(evalRun(['--data', join(root, 'nope')]), /--data must be fashion-mnist, mnist or an existing folder/);
  });
});
