/**
 * Score-SDE predictor-corrector inpainting: the known pixels come back exactly; with the exact
 * score of independent Gaussian pixels the generated pixels follow the data's N(MU, S^2) (the
 * conditional equals the marginal when pixels are independent); bad masks are named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VpSde } from '../../src/sde/vp.js';
import { VeSde } from '../../src/sde/ve.js';
import { pcInpaint } from '../../src/sde/inpaint.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ShapeError } from '../../src/tensor/errors.js';
import { MU, S, gaussianScore, moments } from './gaussian.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** Keep the left half of every 8x8 image: 1 = repaint (diffusers' convention), so 0 on the left. */
const MASK = new Tensor(Float32Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 0 : 1)), [8, 8, 1]);
/** The same region in the old convention (maskConvention 'keep': 1 = keep). */
const KEEP_MASK = new Tensor(Float32Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 1 : 0)), [8, 8, 1]);

for (const sde of [new VpSde({ N: 100 }), new VeSde({ N: 100 })]) {
  test(`pcInpaint ${sde.name}: known pixels exact, generated pixels distributed as the data`, () => {
    const image = new Generator(4).normal([64, 8, 8, 1], MU, S);
    const { x, nfe } = pcInpaint(sde, gaussianScore(sde), image, MASK, { predictor: 'reverse_diffusion', corrector: 'langevin', generator: new Generator(5) });
    assert.equal(nfe, 200);
    const generated: number[] = [];
    for (let i = 0; i < x.size; i++) {
      if (i % 8 < 4) assert.equal(hostBuffer(x)[i], hostBuffer(image)[i], `known element ${i} changed`);
      else generated.push(hostBuffer(x)[i]!);
    }
    const g = moments(new Tensor(Float32Array.from(generated), [generated.length]));
    assert.ok(Math.abs(g.mean - MU) < 0.015 && Math.abs(g.std / S - 1) < 0.06, `generated mean ${g.mean}, std ${g.std}`);
    // And they are new values, not copies of the image.
    assert.ok(generated.some((v, k) => v !== hostBuffer(image)[Math.floor(k / 4) * 8 + 4 + (k % 4)]));
  });
}

test("pcInpaint: maskConvention 'keep' reads the complement mask to the same result, bitwise", () => {
  const sde = new VpSde({ N: 40 });
  const image = new Generator(4).normal([2, 8, 8, 1], MU, S);
  const a = pcInpaint(sde, gaussianScore(sde), image, MASK, { generator: new Generator(5) }).x;
  const b = pcInpaint(sde, gaussianScore(sde), image, KEEP_MASK, { generator: new Generator(5), maskConvention: 'keep' }).x;
  assert.deepEqual(Array.from(hostBuffer(a)), Array.from(hostBuffer(b)));
  for (let i = 0; i < a.size; i++) if (i % 8 < 4) assert.equal(hostBuffer(a)[i], hostBuffer(image)[i]);
});

test('pcInpaint: a mask of the wrong size is a ShapeError before any work', () => {
  const sde = new VpSde({ N: 10 });
  const image = new Generator(0).normal([1, 8, 8, 1]);
  let calls = 0;
  const score = (x: Tensor) => {
    calls++;
    return x;
  };
  assert.throws(() => pcInpaint(sde, score, image, new Tensor(new Float32Array(49), [7, 7]), { generator: new Generator(0) }), ShapeError);
  assert.throws(() => pcInpaint(sde, score, image, new Tensor(new Float32Array(64).fill(0.5), [8, 8]), { generator: new Generator(0) }), /0 or 1 \(1 = repaint, 0 = keep\)/);
  assert.equal(calls, 0);
});
