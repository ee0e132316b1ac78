/**
 * augment(): the folder round-trips through loadImageFolder with the model's classes as labels and
 * the chosen bit depth; every image is the one generate() makes from its stream; regeneration of
 * any image from the manifest is bit-identical (the same 8- or 16-bit values, the same PNG bytes);
 * bad input fails before any file is written.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { augment, regenerateAugmented, readAugmentManifest, classFolderName, modelFingerprint } from '../../src/pipelines/augment.js';
import { generate } from '../../src/pipelines/generate.js';
import { loadImageFolder } from '../../src/data/image_folder.js';
import { probeImage, encodePng } from '../../src/io/png.js';
import { signedToUint, uintToSigned } from '../../src/data/transforms.js';
import { UNet2DModel, configFromJSON } from '../../src/nn/unet_2d.js';
import { Generator } from '../../src/tensor/random.js';
import { useBackend } from '../../src/backend/backend.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { DataError } from '../../src/data/dataset.js';
import { TINY_UNET } from '../train/fixtures.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

// The reference kernels are faster than oneDNN's set-up for models this small.
useBackend('reference');
const tiny = (over: Record<string, unknown> = {}, seed = 0) => new UNet2DModel(configFromJSON({ ...TINY_UNET, ...over }), { gen: new Generator(seed) }).eval();
const model = tiny(); // 8x8x1, 3 classes + the null class
const CONFIG = { num_train_timesteps: 50, beta_schedule: 'linear' };
const NAMES = ['T-shirt/top', 'Trouser', 'Pullover'];

describe('augment', () => {
  let root = '';
  before(() => (root = mkdtempSync(join(tmpdir(), 'diffuse-augment-'))));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('class folder names sort in class order', () => {
    assert.equal(classFolderName(0, 3, 'T-shirt/top'), '0_t-shirt-top');
    assert.equal(classFolderName(3, 12, 'Ankle boot'), '03_ankle-boot');
    assert.equal(classFolderName(7, 10, null), '7');
    assert.equal(classFolderName(2, 3, '***'), '2');
  });

  for (const bitDepth of [8, 16] as const) {
    it(`${bitDepth}-bit: round-trips through loadImageFolder with the model's labels; regeneration is bit-identical`, async () => {
      const out = join(root, `set${bitDepth}`);
      let ticks = 0;
      const { manifest, manifestPath } = await augment({
        model, schedulerConfig: CONFIG, scheduler: 'euler_ancestral', steps: 3, out, perClass: 3, classes: [2, 0], classNames: NAMES,
        bitDepth, seed: 7, batchSize: 4, guidanceScale: 1.5, onProgress: () => ticks++,
      });
      assert.equal(ticks, 2 * 3); // two batches (4 + 2 images) of 3 steps
      assert.deepEqual(readdirSync(out).sort(), ['0_t-shirt-top', '2_pullover', 'manifest.json']);
      assert.deepEqual(manifest.images.map((im) => im.class), [2, 2, 2, 0, 0, 0]);
      assert.deepEqual(manifest.images.map((im) => im.batch), [[0, 4], [0, 4], [0, 4], [0, 4], [4, 6], [4, 6]]);
      assert.equal(manifest.images[4]!.file, join('0_t-shirt-top', '00004.png'));
      assert.equal(manifest.settings.bitDepth, bitDepth);
      assert.equal(manifest.model.fingerprint, modelFingerprint(model));
      // The loader's labels (sorted folder names) are indices into its class names: map them back.
      const ds = await loadImageFolder(out, { imageSize: 8 });
      assert.equal(ds.length, 6);
      assert.deepEqual(ds.classNames, ['0_t-shirt-top', '2_pullover']);
      for (let i = 0; i < ds.length; i++) {
        const rec = manifest.images.find((im) => join(out, im.file) === ds.files[i])!;
        assert.equal(Number(ds.classNames[ds.get(i).label!]!.split('_')[0]), rec.class, ds.files[i]);
        assert.equal((await probeImage(ds.files[i]!)).bitDepth, bitDepth);
      }
      // Every image is generate()'s image K of the same settings (the manifest's batches).
      const direct = generate({ model, schedulerConfig: CONFIG, scheduler: 'euler_ancestral', steps: 3, n: 4, batchSize: 4, classLabels: [2, 2, 2, 0], guidanceScale: 1.5, seed: 7 }).images;
      const f1 = ds.files.indexOf(join(out, manifest.images[1]!.file));
      const q = signedToUint(hostBuffer(direct).subarray(64, 128), bitDepth);
      assert.deepEqual(Array.from(ds.get(f1).image), Array.from(uintToSigned(q, bitDepth)));
      // Regeneration from the manifest file: the same quantised values and the same PNG bytes.
      const m = readAugmentManifest(manifestPath);
      for (const k of [1, 5]) {
        const r = regenerateAugmented({ manifest: m, index: k, model });
        assert.deepEqual(r.image.shape, [1, 8, 8, 1]);
        const bytes = await encodePng({ data: Float32Array.from(hostBuffer(r.image)), height: 8, width: 8, channels: 1 }, { bitDepth });
        assert.ok(bytes.equals(readFileSync(join(out, m.images[k]!.file))), `image ${k}: PNG bytes`);
      }
    });
  }

  it('an unconditional model writes a flat folder', async () => {
    const plain = tiny({ num_class_embeds: null });
    const out = join(root, 'flat');
    const { manifest } = await augment({ model: plain, schedulerConfig: CONFIG, steps: 2, out, perClass: 3, seed: 0 });
    assert.deepEqual(readdirSync(out).sort(), ['00000.png', '00001.png', '00002.png', 'manifest.json']);
    assert.equal(manifest.images[0]!.class, null);
    const ds = await loadImageFolder(out, { imageSize: 8 });
    assert.equal(ds.numClasses, null);
    const r = regenerateAugmented({ manifest: manifest, index: 2, model: plain });
    const bytes = await encodePng({ data: Float32Array.from(hostBuffer(r.image)), height: 8, width: 8, channels: 1 });
    assert.ok(bytes.equals(readFileSync(join(out, '00002.png'))));
  });

  it('bad input: clear errors before any file is written', async () => {
    const bad = async (o: object, re: RegExp, type: Function = ArgumentError) => {
      const out = join(root, `bad-${Math.random().toString(36).slice(2)}`);
      await assert.rejects(augment({ model, schedulerConfig: CONFIG, steps: 2, out, perClass: 1, seed: 0, ...o } as Parameters<typeof augment>[0]), (e: Error) => e instanceof type && re.test(e.message), re.source);
      assert.equal(existsSync(out), false);
    };
    await bad({ perClass: 0 }, /'perClass' must be an integer >= 1/);
    await bad({ bitDepth: 12 }, /'bitDepth' must be 8 or 16/);
    await bad({ classes: [4] }, /class label 0 is 4, expected an integer in \[0, 3\]/);
    await bad({ classes: [3], guidanceScale: 2 }, /class label 0 is 3, expected an integer in \[0, 2\].*null class/);
    await bad({ classes: [0, 0] }, /lists a class twice/);
    await bad({ model: tiny({ num_class_embeds: null }), guidanceScale: 2 }, /needs a class-conditional model/);
    await bad({ scheduler: 'nope' }, /unknown scheduler or sampler 'nope'/);
    await bad({ classNames: ['a'] }, /'classNames' has 1 names, none for class 1/);
    const full = join(root, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'x.txt'), 'x');
    await assert.rejects(augment({ model, schedulerConfig: CONFIG, out: full, perClass: 1, seed: 0 }), (e: Error) => e instanceof DataError && /is not empty/.test(e.message));
    const other = tiny({}, 99);
    const out = join(root, 'set8');
    assert.notEqual(modelFingerprint(other), modelFingerprint(model));
    assert.throws(() => regenerateAugmented({ manifest: join(out, 'manifest.json'), index: 0, model: other }), /weights .* are not the ones that made this set/);
    assert.throws(() => regenerateAugmented({ manifest: join(out, 'manifest.json'), index: 6, model }), /'index' must be an integer in \[0, 6\)/);
  });
});
