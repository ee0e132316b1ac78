import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_CLASSES, fashionClassBytes, fashionMnist, packageDir, scanJsonPixels } from '../../src/data/fashion_mnist.js';
import { DataError } from '../../src/data/dataset.js';
import { ArgumentError } from '../../src/tensor/errors.js';

/** The package's own class file, parsed the slow, obvious way (the oracle for our byte scanner). */
const rawClass = (k: number): number[][] =>
  (JSON.parse(readFileSync(join(packageDir('fashion-mnist'), 'src', 'clothes', `${k}.json`), 'utf8')) as { data: number[][] }).data;

describe('Fashion-MNIST', () => {
  it('has 70,000 images, 7,000 per class; train 60,000 = 6,000 per class, test 10,000 = 1,000 per class', () => {
    const train = fashionMnist('train');
    const test = fashionMnist('test');
    const all = fashionMnist('all');
    assert.deepEqual([train.length, test.length, all.length], [60000, 10000, 70000]);
    assert.deepEqual([train.imageSize, train.channels, train.numClasses], [28, 1, 10]);
    assert.equal(train.classNames[9], 'Ankle boot');
    assert.equal(FASHION_MNIST_CLASSES.length, 10);
    for (const [ds, per] of [[train, 6000], [test, 1000], [all, 7000]] as const) {
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < ds.length; i++) counts[ds.labelOf(i)]!++;
      assert.deepEqual(counts, new Array<number>(10).fill(per), ds.name);
    }
    for (let k = 0; k < 10; k++) assert.equal(fashionClassBytes(k).length, 7000 * 784);
  });

  it("drops class 0's two empty records and matches the raw file pixel for pixel around them", () => {
    const raw = rawClass(0);
    assert.equal(raw.length, 7002);
    assert.deepEqual([raw[1000]!.length, raw[7001]!.length], [0, 0]);
    const all = fashionMnist('all');
    const train = fashionMnist('train');
    const test = fashionMnist('test');
    const sum = (b: Uint8Array): number => b.reduce((a, v) => a + v, 0);
    // Known image: class 0's first record, pixel sum 79,892 in the package file.
    assert.equal(sum(train.bytes(0)), 79892);
    assert.equal(raw[0]!.reduce((a, v) => a + v, 0), 79892);
    // Around the dropped record at 1000, and the first test image (record 6001 of the file).
    for (const [ds, i, r] of [[all, 999, 999], [all, 1000, 1001], [train, 5999, 6000], [test, 0, 6001], [test, 999, 7000]] as const) {
      assert.deepEqual(Array.from(ds.bytes(i)), raw[r], `${ds.name}[${i}] vs file record ${r}`);
    }
    // get() is the same image scaled to [-1, 1].
    const { image, label } = test.get(0);
    assert.equal(label, 0);
    assert.ok(image.every((v, p) => Math.abs(v - ((raw[6001]![p] as number) / 255) * 2 + 1) < 1e-6));
  });

  it('class 9 (no empty records): the last test image is the last record of the file', () => {
    const raw = rawClass(9);
    assert.equal(raw.length, 7000);
    const test = fashionMnist('test');
    assert.equal(test.labelOf(9999), 9);
    assert.deepEqual(Array.from(test.bytes(9999)), raw[6999]);
    assert.deepEqual(Array.from(fashionMnist('train').bytes(54000)), raw[0]);
  });

  it('the byte scanner rejects what is not an array of pixel values', () => {
    const scan = (s: string, enc: 'uint8' | 'unit' = 'uint8'): unknown => scanJsonPixels(Buffer.from(s), 'f.json', enc);
    assert.deepEqual(scanJsonPixels(Buffer.from('{"data":[[1,2],[],[255]]}'), 'f', 'uint8'), { bytes: Uint8Array.from([1, 2, 255]), recordLengths: [2, 0, 1] });
    assert.deepEqual(Array.from(scanJsonPixels(Buffer.from('{ "data": [0, 0.2, 1] }'), 'f', 'unit').bytes), [0, 51, 255]);
    assert.throws(() => scan('{"data":[[1,-2]]}'), (e: Error) => e instanceof DataError && /f\.json: a negative number at byte/.test(e.message));
    assert.throws(() => scan('{"data":[[256]]}'), /the value 256 \(not an integer 0\.\.255\)/);
    assert.throws(() => scan('{"data":[[1.5]]}'), /not an integer/);
    assert.throws(() => scan('{"data":[1e3]}', 'unit'), /an exponent/);
    assert.throws(() => scan('{"data":[[1,2]'), /unterminated/);
    assert.throws(() => fashionMnist('val' as 'train'), (e: Error) => e instanceof ArgumentError && /split must be 'train', 'test' or 'all'/.test(e.message));
    assert.throws(() => fashionMnist('test').get(10000), /index must be an integer in \[0, 10000\), found 10000/);
  });
});
