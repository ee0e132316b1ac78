import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { flipHorizontal, maxValue, randomFlipBatch, signedToUint, signedToUnit, uintToSigned, unitToSigned } from '../../src/data/transforms.js';
import { ArgumentError } from '../../src/tensor/errors.js';

describe('transforms', () => {
  it('uint8 <-> [-1, 1] round-trips every value exactly, with 0 -> -1 and 255 -> 1', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const x = uintToSigned(all, 8);
    assert.equal(x[0], -1);
    assert.equal(x[255], 1);
    assert.ok(Math.abs((x[128] as number) - (128 / 255) * 2 + 1) < 1e-7);
    assert.deepEqual(signedToUint(x, 8), all);
  });

  it('uint16 <-> [-1, 1] round-trips all 65,536 values exactly', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = signedToUint(uintToSigned(all, 16), 16);
    assert.ok(back instanceof Uint16Array);
    let bad = 0;
    for (let i = 0; i < 65536; i++) if (back[i] !== i) bad++;
    assert.equal(bad, 0);
    assert.equal(maxValue(16), 65535);
  });

  it('signedToUint clamps out-of-range values and writes NaN as 0', () => {
    assert.deepEqual(Array.from(signedToUint(new Float32Array([-3, 3, NaN, 0, -Infinity, Infinity]), 8)), [0, 255, 0, 128, 0, 255]);
    assert.deepEqual(Array.from(signedToUint([0], 16)), [32768]);
    assert.equal(unitToSigned(0.25), -0.5);
    assert.equal(signedToUnit(-0.5), 0.25);
  });

  it('flipHorizontal mirrors each row, all channels together (closed form, H != W)', () => {
    // (H=2, W=3, C=2): pixel (y, x) holds [10y + x, -(10y + x)].
    const img = new Float32Array([0, -0, 1, -1, 2, -2, 10, -10, 11, -11, 12, -12]);
    flipHorizontal(img, 2, 3, 2);
    assert.deepEqual(Array.from(img), [2, -2, 1, -1, 0, -0, 12, -12, 11, -11, 10, -10]);
  });

  it('randomFlipBatch flips exactly the images whose uniform is below 1/2', () => {
    const batch = new Float32Array([1, 2, 3, 4, 5, 6]); // (N=3, H=1, W=2, C=1)
    const flags = randomFlipBatch(batch, [3, 1, 2, 1], [0.1, 0.9, 0.4999]);
    assert.deepEqual(Array.from(flags), [1, 0, 1]);
    assert.deepEqual(Array.from(batch), [2, 1, 3, 4, 6, 5]);
  });

  it('bad input gives clear errors', () => {
    assert.throws(() => uintToSigned([1], 12 as 8), (e: Error) => e instanceof ArgumentError && /bit depth must be 8 or 16, found 12/.test(e.message));
    assert.throws(() => uintToSigned([1, 2], 8, new Float32Array(3)), /output has 3 elements, expected 2/);
    assert.throws(() => flipHorizontal(new Float32Array(5), 2, 3, 1), /expected height\*width\*channels = 2\*3\*1 = 6/);
    assert.throws(() => randomFlipBatch(new Float32Array(4), [2, 1, 2, 1], [0.1]), /1 uniforms for a batch of 2/);
  });
});
