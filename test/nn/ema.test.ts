// Tests of the parameter EMA: closed forms, native vs reference, per-call decay, copyTo, state.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EMA } from '../../src/nn/ema.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { DTypeError, ShapeError } from '../../src/tensor/errors.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor, uniformValues } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('EMA', () => {
  it('closed form: with fixed params, shadow_t = p + decay^t (shadow_0 - p), on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      withBackend(b, () => {
        const p = tensor([1, -2, 4], [3]);
        const ema = new EMA([p], 0.9);
        assert.deepEqual([...hostBuffer(ema.shadow[0]!)], [1, -2, 4], 'the shadow starts as a copy');
        hostBuffer(p).set([0, 0, 0]);
        for (let t = 0; t < 5; t++) ema.update();
        assertClose(hostBuffer(ema.shadow[0]!), [1, -2, 4].map((x) => x * 0.9 ** 5), { nmseTol: 1e-13, absTol: 1e-6, what: `${b}: shadow` });
        assert.equal(ema.numUpdates, 5);
      });
    }
  });

  it('decay per call: 0 copies the parameters, 1 keeps the shadow; float64 on the reference backend is exact', () => {
    withBackend('reference', () => {
      const p = tensor([0.5, 0.25], [2], { dtype: 'float64' });
      const ema = new EMA([p]);
      assert.equal(ema.decay, 0.9999);
      hostBuffer(p).set([3, 5]);
      ema.update(undefined, 1);
      assert.deepEqual([...hostBuffer(ema.shadow[0]!)], [0.5, 0.25]);
      ema.update([p], 0.75);
      assert.deepEqual([...hostBuffer(ema.shadow[0]!)], [0.75 * 0.5 + 0.25 * 3, 0.75 * 0.25 + 0.25 * 5]);
      ema.update([p], 0);
      assert.deepEqual([...hostBuffer(ema.shadow[0]!)], [3, 5]);
    });
  });

  it('native matches reference over several updates (odd shapes, one large enough for threads) and NaN propagates', () => {
    const shapes = [[3, 5, 7, 3], [1], [2, 129, 130, 1]];
    const run = (b: 'native' | 'reference'): Tensor[] =>
      withBackend(b, () => {
        const params = shapes.map((s, i) => randTensor(s, 200 + i));
        const ema = new EMA(params, 0.95);
        for (let t = 0; t < 4; t++) {
          params.forEach((p, i) => hostBuffer(p).set(uniformValues(p.size, 10 * t + i)));
          if (t === 2) hostBuffer(params[0]!)[3] = NaN;
          ema.update(params, t === 3 ? 0.5 : undefined);
        }
        return ema.shadow;
      });
    const n = run('native');
    const r = run('reference');
    n.forEach((t, i) => assertClose(hostBuffer(t), hostBuffer(r[i]!), { nmseTol: 1e-13, absTol: 1e-6, what: `shadow ${i}` }));
    assert.ok(Number.isNaN(hostBuffer(n[0]!)[3]) && Number.isNaN(hostBuffer(r[0]!)[3]));
  });

  it('copyTo writes the shadow into other parameters; the shadow is independent of them', () => {
    const p = tensor([1, 2], [2]);
    const ema = new EMA([p], 0.5);
    hostBuffer(p).set([3, 4]);
    ema.update();
    const evalParam = tensor([0, 0], [2]);
    ema.copyTo([evalParam]);
    assert.deepEqual([...hostBuffer(evalParam)], [2, 3]);
    hostBuffer(evalParam)[0] = 100;
    assert.equal(hostBuffer(ema.shadow[0]!)[0], 2);
    ema.copyTo();
    assert.deepEqual([...hostBuffer(p)], [2, 3]);
  });

  it('state round trip restores shadow, decay and update count (copied)', () => {
    const p = randTensor([4, 3], 9);
    const a = new EMA([p], 0.8);
    hostBuffer(p).set(uniformValues(12, 3));
    a.update();
    const saved = a.getState();
    const b = new EMA([randTensor([4, 3], 10)]);
    b.setState(saved);
    assert.equal(b.decay, 0.8);
    assert.equal(b.numUpdates, 1);
    assert.deepEqual(hostBuffer(b.shadow[0]!), hostBuffer(a.shadow[0]!));
    a.update();
    b.update([p]);
    assert.deepEqual(hostBuffer(b.shadow[0]!), hostBuffer(a.shadow[0]!));
    assert.notDeepEqual(hostBuffer(saved.shadow[0]!), hostBuffer(a.shadow[0]!), 'getState returned a copy');
  });

  it('rejects bad input with messages naming it', () => {
    const p = tensor([1, 2], [2]);
    assert.throws(() => new EMA([p], 1.5), /EMA: 'decay' must be a number in \[0, 1\], found 1.5/);
    assert.throws(() => new EMA([{}] as never), /EMA: params\[0\] must be a Tensor/);
    const ema = new EMA([p]);
    assert.throws(() => ema.update([p], -0.1), /EMA.update: 'decay' must be a number in \[0, 1\], found -0.1/);
    assert.throws(() => ema.update([]), /EMA.update: expected 1 parameters \(as given to the constructor\), found 0/);
    assert.throws(() => ema.update([tensor([1, 2, 3], [3])]), (e: Error) => e instanceof ShapeError && /params\[0\] has shape \[3\], expected \[2\]/.test(e.message));
    assert.throws(() => ema.copyTo([tensor([1, 2], [2], { dtype: 'float64' })]), DTypeError);
    assert.throws(() => ema.setState({ shadow: [p], decay: 0.5, numUpdates: -1 }), /'numUpdates' must be an integer >= 0/);
    const q = tensor([1, 2], [2], { dtype: 'float64' });
    // float64 runs the reference kernel under the native backend (the addon is float32 only).
    const run = (name: 'native' | 'reference') => withBackend(name, () => {
      const e = new EMA([q], 0.5);
      e.update([tensor([3, 5], [2], { dtype: 'float64' })]);
      return e.shadow[0]!.toArray('float64');
    });
    assert.deepEqual(run('native'), run('reference'));
  });
});
