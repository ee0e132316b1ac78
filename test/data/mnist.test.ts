import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNIST_COUNTS, mnist, mnistClassBytes, mnistTestCounts } from '../../src/data/mnist.js';
import { packageDir } from '../../src/data/fashion_mnist.js';

describe('MNIST', () => {
  it('has 10,000 images split 9,000 / 1,000, stratified by digit', () => {
    const train = mnist('train');
    const test = mnist('test');
    assert.deepEqual([train.length, test.length, mnist('all').length], [9000, 1000, 10000]);
    assert.equal(MNIST_COUNTS.reduce((a, b) => a + b, 0), 10000);
    const testCounts = mnistTestCounts();
    assert.deepEqual(testCounts, [100, 113, 99, 103, 98, 86, 102, 107, 94, 98]);
    const counted = new Array<number>(10).fill(0);
    for (let i = 0; i < test.length; i++) counted[test.labelOf(i)]!++;
    assert.deepEqual(counted, testCounts);
    for (let k = 0; k < 10; k++) {
      // Each digit's test share is within one image of 10%.
      assert.ok(Math.abs((testCounts[k] as number) - (MNIST_COUNTS[k] as number) / 10) < 1, `digit ${k}`);
      assert.equal(mnistClassBytes(k).length, (MNIST_COUNTS[k] as number) * 784);
    }
  });

  it('recovers the package bytes exactly from its 3-decimal values; test = the last images of each digit', () => {
    const raw = (JSON.parse(readFileSync(join(packageDir('mnist'), 'src', 'digits', '5.json'), 'utf8')) as { data: number[] }).data;
    assert.equal(raw.length, 863 * 784);
    const bytes = mnistClassBytes(5);
    let worst = 0;
    for (let p = 0; p < raw.length; p++) worst = Math.max(worst, Math.abs((bytes[p] as number) / 255 - (raw[p] as number)));
    assert.ok(worst <= 0.0005 + 1e-9, `max |byte/255 - value| = ${worst}`); // the file's 3-decimal rounding
    const test = mnist('test');
    // The first test image of digit 5 is image 863 - 86 = 777 of its file.
    const first5 = mnistTestCounts().slice(0, 5).reduce((a, b) => a + b, 0);
    assert.equal(test.labelOf(first5), 5);
    const { image, label } = test.get(first5);
    assert.equal(label, 5);
    const ref = raw.slice(777 * 784, 778 * 784);
    assert.ok(image.every((v, p) => Math.abs((v + 1) / 2 - (ref[p] as number)) <= 0.0005 + 1e-6));
    assert.deepEqual(Array.from(mnist('train').bytes(0)), Array.from(mnistClassBytes(0).subarray(0, 784)));
  });
});
