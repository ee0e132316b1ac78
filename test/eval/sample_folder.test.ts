/**
 * Labelled sample folders: class folders named by index, by augment's '<index>_<slug>' or by
 * class name map to the dataset's labels (not to sorted-folder order); pixel values survive;
 * 16-bit grayscale files load.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadSampleFolder } from '../../src/eval/sample_folder.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/index.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('loadSampleFolder', () => {
  const root = mkdtempSync(join(tmpdir(), 'diffuse-samplefolder-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('maps index, augment-style and name folders to dataset labels and keeps pixel values', async () => {
    const grey = (v: number) => sharp(Buffer.alloc(28 * 28, v), { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png();
    for (const [cls, v] of [['1_trouser', 0], ['ankle-boot', 255], ['3', 51]] as const) {
      mkdirSync(join(root, cls));
      await grey(v).toFile(join(root, cls, '00000.png'));
    }
    // A 16-bit grayscale file (augment's --bit-depth 16).
    await sharp(Buffer.alloc(28 * 28 * 2, 0xff), { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('grey16').png().toFile(join(root, '3', '00001.png'));
    const set = await loadSampleFolder(root, { imageSize: 28, channels: 1, classNames: FASHION_MNIST_CLASSES });
    // Sorted folders: '1_trouser', '3', 'ankle-boot'.
    assert.deepEqual([...set.labels], [1, 3, 3, 9]);
    assert.deepEqual(set.images.shape, [4, 28, 28, 1]);
    const px = (i: number) => hostBuffer(set.images)[i * 784]!;
    assert.deepEqual([px(0), px(1), px(2), px(3)].map((v) => Math.round(v * 100) / 100), [-1, -0.6, 1, 1]);
  });

  it('a dangling or looping link beside the class folders is not a class folder, not a crash (issue 14, fuzz case)', async () => {
    const dir = join(root, 'links');
    mkdirSync(join(dir, '2'), { recursive: true });
    await sharp(Buffer.alloc(28 * 28, 9), { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png().toFile(join(dir, '2', 'a.png'));
    symlinkSync('self', join(dir, 'self'));
    const spec = { imageSize: 28, channels: 1, classNames: FASHION_MNIST_CLASSES };
    assert.deepEqual([...(await loadSampleFolder(dir, spec)).labels], [2]);
    // A dangling image link beside the class folders: the loader's error naming it, not a raw ENOENT.
    symlinkSync(join(dir, 'missing.png'), join(dir, 'a0.jpg'));
    await assert.rejects(loadSampleFolder(dir, spec), (e: Error) => e.name === 'DataError' && e.message.includes('a0.jpg'));
  });
});
