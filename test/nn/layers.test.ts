/**
 * The U-Net's layers: Conv2d/Linear/GroupNorm/Dropout, Timesteps + TimestepEmbedding, Attention,
 * ResnetBlock2D, Down/Upsample2D. Gradient checks (float64 finite differences, every parameter
 * and input), native vs reference on odd shapes, closed forms, and bad input.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Module } from '../../src/nn/module.js';
import { Conv2d, Dropout, GroupNorm, Linear } from '../../src/nn/layers.js';
import { Timesteps, TimestepEmbedding, sinusoidalEmbedding } from '../../src/nn/embeddings.js';
import { Attention } from '../../src/nn/attention.js';
import { Downsample2D, ResnetBlock2D, Upsample2D } from '../../src/nn/resnet.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { upsampleNearest2x } from '../../src/ops/upsample.js';
import { softmax } from '../../src/ops/softmax.js';
import { matmul } from '../../src/ops/matmul.js';
import { withBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor, uniformValues } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** Gives every parameter random values (GroupNorm's default 1/0 would hide gradient errors). */
function randomize(m: Module, seed: number, scale = 0.5): void {
  m.parameters().forEach((p, i) => hostBuffer(p).set(uniformValues(p.size, seed + i, -scale, scale)));
}

/**
 * Gradient check of `run` with respect to its tensor inputs AND every parameter of `m`
 * (float64 on the reference backend): the parameters are swapped for gradcheck's copies.
 */
function gradcheckModule(m: Module, run: (...xs: Tensor[]) => Tensor, inputs: Tensor[], skipParams: string[] = []): void {
  m.to('float64');
  const names = m.namedParameters().map(([n]) => n);
  const params = m.parameters();
  gradcheck(
    (...all: Tensor[]) => {
      names.forEach((n, i) => m.setParameter(n, all[inputs.length + i]!));
      return run(...all.slice(0, inputs.length));
    },
    [...inputs, ...params],
    { skip: skipParams.map((n) => inputs.length + names.indexOf(n)) },
  );
}

/** The key bias's exact gradient is 0: softmax over keys ignores the constant q . b_k added to every score. */
const KEY_BIAS = 'to_k.bias';

describe('Conv2d, Linear, GroupNorm', () => {
  it('hold PyTorch-named parameters (conv OHWI) and compute the ops', () => {
    const conv = new Conv2d(3, 5, 3, { padding: 1 });
    assert.deepEqual(conv.namedParameters().map(([n, t]) => [n, t.shape]), [['weight', [5, 3, 3, 3]], ['bias', [5]]]);
    const x = randTensor([2, 4, 6, 3], 1);
    assertClose(hostBuffer(conv.forward(x)), hostBuffer(conv2d(x, conv.weight, conv.bias, { padding: 1 })), { nmseTol: 0 });
    // torch's default init: |w| <= 1/sqrt(fan_in)
    const bound = 1 / Math.sqrt(27);
    assert.ok(hostBuffer(conv.weight).every((v) => Math.abs(v) <= bound));
    const lin = new Linear(4, 2, { bias: false });
    assert.equal(lin.bias, null);
    assert.deepEqual(hostBuffer(lin.forward(tensor([1, 0, 0, 0], [1, 4]))), Float32Array.from([hostBuffer(lin.weight)[0]!, hostBuffer(lin.weight)[4]!]));
  });

  it('GroupNorm.forwardSilu equals silu(forward) and normalises each group (closed form: mean 0, var 1)', () => {
    const gn = new GroupNorm(2, 4, 1e-6);
    const x = randTensor([1, 3, 5, 4], 2, { lo: 3, hi: 7 });
    const y = gn.forward(x);
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < y.size; i++) if (i % 4 < 2) (s += hostBuffer(y)[i]!), (s2 += hostBuffer(y)[i]! ** 2);
    assert.ok(Math.abs(s / 30) < 1e-5 && Math.abs(s2 / 30 - 1) < 1e-4);
    const z = gn.forwardSilu(x);
    hostBuffer(y).forEach((v, i) => assert.ok(Math.abs(hostBuffer(z)[i]! - v / (1 + Math.exp(-v))) < 1e-5));
    assert.throws(() => new GroupNorm(3, 4), /numChannels 4 is not divisible by numGroups 3/);
  });
});

describe('Dropout', () => {
  it('is the identity in eval mode and with p = 0', () => {
    const x = randTensor([4, 4], 3);
    const d = new Dropout(0.5);
    d.eval();
    assert.equal(d.forward(x), x);
    assert.equal(new Dropout(0).forward(x), x);
  });

  it('zeroes about p of the elements, scales the rest by 1/(1-p), and repeats with the same generator state', () => {
    const d = new Dropout(0.25);
    d.generator = new Generator(7);
    const x = tensor(new Array(4000).fill(1), [4000]);
    const y = d.forward(x);
    const zeros = hostBuffer(y).filter((v) => v === 0).length;
    assert.ok(Math.abs(zeros / 4000 - 0.25) < 0.03, `dropped ${zeros / 4000}`);
    assert.ok(hostBuffer(y).every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
    d.generator = new Generator(7);
    assert.deepEqual(hostBuffer(d.forward(x)), hostBuffer(y));
    assert.throws(() => new Dropout(1), /'p' must be a number in \[0, 1\)/);
  });
});

describe('Timesteps and TimestepEmbedding', () => {
  it('closed form: t = 0 gives sin 0 = 0 and cos 0 = 1; flip_sin_to_cos swaps the halves; odd dims pad a zero', () => {
    const plain = new Timesteps(8, false, 1).forward([0], 1);
    assert.deepEqual([...hostBuffer(plain)], [0, 0, 0, 0, 1, 1, 1, 1]);
    const flipped = new Timesteps(8, true, 0).forward(0, 1);
    assert.deepEqual([...hostBuffer(flipped)], [1, 1, 1, 1, 0, 0, 0, 0]);
    // freq_0 = 1: emb(t)[0] = sin(t) (no flip), and the last frequency is maxPeriod^(-(half-1)/(half-shift))
    const e = sinusoidalEmbedding(Float32Array.of(2.5), 8, { downscaleFreqShift: 1 });
    assert.ok(Math.abs(e[0]! - Math.sin(2.5)) < 1e-7);
    assert.ok(Math.abs(e[3]! - Math.sin(2.5 * 10000 ** (-3 / 3))) < 1e-7);
    assert.equal(sinusoidalEmbedding(Float32Array.of(1), 7).length, 7);
  });

  it('fractional timesteps are embedded as given (no truncation), one value broadcasts over the batch', () => {
    const ts = new Timesteps(6, true, 0);
    const a = ts.forward([0.5, 0.5], 2);
    const b = ts.forward(0.5, 2);
    assert.deepEqual(hostBuffer(a), hostBuffer(b));
    assert.ok(Math.abs(hostBuffer(a)[0]! - Math.cos(0.5)) < 1e-7);
    assert.throws(() => ts.forward([1, 2, 3], 2), /3 timesteps for a batch of 2/);
    assert.throws(() => ts.forward([NaN, 1], 2), /timestep 0 is NaN, expected a finite number/);
  });

  it('TimestepEmbedding: gradient check of linear_1 -> SiLU -> linear_2 over the sinusoidal input', () => {
    const emb = new TimestepEmbedding(6, 5);
    randomize(emb, 10);
    const tproj = new Timesteps(6, true, 0).forward([3, 700], 2);
    gradcheckModule(emb, (x) => emb.forward(x), [tproj]);
  });
});

describe('Attention', () => {
  const make = (heads: number, groups: number | null, rescale = 1): Attention => {
    const a = new Attention(6, { heads, dimHead: 6 / heads, normNumGroups: groups, eps: 1e-6, rescaleOutputFactor: rescale });
    randomize(a, 20);
    return a;
  };

  it('has diffusers parameter names', () => {
    assert.deepEqual(make(1, 3).namedParameters().map(([n]) => n), [
      'group_norm.weight', 'group_norm.bias', 'to_q.weight', 'to_q.bias', 'to_k.weight', 'to_k.bias', 'to_v.weight', 'to_v.bias', 'to_out.0.weight', 'to_out.0.bias',
    ]);
  });

  it('closed form: one head equals (x + softmax(q k^T / sqrt(C)) v Wout^T + b) / rescale, composed by hand', () => {
    const a = make(1, null, 2);
    const x = randTensor([2, 2, 3, 6], 21);
    const y = a.forward(x);
    const h = tensor(hostBuffer(x), [2, 6, 6]);
    const q = a.to_q.forward(h);
    const k = a.to_k.forward(h);
    const v = a.to_v.forward(h);
    const o = a.to_out.at(0).forward(matmul(softmax(matmul(q, k, { transB: true, alpha: 1 / Math.sqrt(6) })), v));
    const expected = hostBuffer(o).map((val, i) => (val + hostBuffer(x)[i]!) / 2);
    assertClose(hostBuffer(y), expected, { nmseTol: 1e-12 });
  });

  for (const [heads, groups] of [[1, 3], [2, 2], [3, null]] as const) {
    it(`gradient check (heads ${heads}, group_norm ${groups ?? 'none'}), every parameter and the input`, () => {
      const a = make(heads, groups, heads === 2 ? 1.5 : 1);
      gradcheckModule(a, (x) => a.forward(x), [randTensor([2, 2, 3, 6], 22)], [KEY_BIAS]);
    });
  }

  it('closed form: the key bias gets a zero gradient (up to rounding)', () => {
    withBackend('reference', () => {
      const a = make(2, 2).to('float64');
      const x = randTensor([2, 2, 3, 6], 25, { dtype: 'float64' });
      a.forward(x).backward(randTensor([2, 2, 3, 6], 26, { dtype: 'float64' }));
      const g = a.to_k.bias!.grad!;
      assert.ok(hostBuffer(g).every((v) => Math.abs(v) < 1e-14), `to_k.bias grad ${[...hostBuffer(g)]}`);
      assert.ok(hostBuffer(a.to_q.bias!.grad!).some((v) => Math.abs(v) > 1e-6));
    });
  });

  it('native matches reference, forward and backward (batch 1, 3x5, 2 heads, 6 channels)', () => {
    assertBackendsAgree(() => {
      const a = make(2, 3);
      const x = randTensor([1, 3, 5, 6], 23, { requiresGrad: true });
      const y = a.forward(x);
      y.backward(randTensor([1, 3, 5, 6], 24));
      return [y, x.grad!, ...a.namedParameters().filter(([n]) => n !== KEY_BIAS).map(([, p]) => p.grad!)];
    }, { nmseTol: 1e-10 });
  });

  it('rejects an input whose channels differ from queryDim', () => {
    assert.throws(() => make(1, 3).forward(randTensor([1, 2, 2, 5], 1)), (e: unknown) => e instanceof ShapeError && /expected \(N, H, W, 6\)/.test(e.message));
  });
});

describe('ResnetBlock2D', () => {
  const make = (norm: 'default' | 'scale_shift', cin = 4, cout = 6, factor = 1): ResnetBlock2D => {
    const r = new ResnetBlock2D({ inChannels: cin, outChannels: cout, tembChannels: 5, groups: 2, eps: 1e-6, timeEmbeddingNorm: norm, outputScaleFactor: factor });
    randomize(r, 30);
    return r;
  };

  it('has diffusers parameter names and a 1x1 conv_shortcut only when channels change', () => {
    assert.deepEqual(make('default').namedParameters().map(([n, t]) => `${n}:${t.shape.join('x')}`), [
      'norm1.weight:4', 'norm1.bias:4', 'conv1.weight:6x3x3x4', 'conv1.bias:6', 'time_emb_proj.weight:6x5', 'time_emb_proj.bias:6',
      'norm2.weight:6', 'norm2.bias:6', 'conv2.weight:6x3x3x6', 'conv2.bias:6', 'conv_shortcut.weight:6x1x1x4', 'conv_shortcut.bias:6',
    ]);
    assert.equal(make('scale_shift', 6, 6).conv_shortcut, null);
    assert.deepEqual(make('scale_shift').time_emb_proj!.weight.shape, [12, 5]);
  });

  for (const [norm, cin, factor] of [['default', 4, 1], ['scale_shift', 4, 2], ['default', 6, 1]] as const) {
    it(`gradient check (${norm}, ${cin} -> 6 channels, output_scale_factor ${factor}), every parameter, x and temb`, () => {
      const r = make(norm, cin, 6, factor);
      gradcheckModule(r, (x, t) => r.forward(x, t), [randTensor([2, 3, 2, cin], 31), randTensor([2, 5], 32)]);
    });
  }

  it('closed form: zero conv2 and output_scale_factor 2 give (shortcut(x) + conv2.bias) / 2', () => {
    const r = make('default', 4, 6, 2);
    hostBuffer(r.conv2.weight).fill(0);
    const x = randTensor([1, 2, 3, 4], 33);
    const y = r.forward(x, randTensor([1, 5], 34));
    const s = r.conv_shortcut!.forward(x);
    assertClose(hostBuffer(y), hostBuffer(s).map((v, i) => (v + hostBuffer(r.conv2.bias!)[i % 6]!) / 2), { nmseTol: 1e-12 });
  });

  it('native matches reference, forward and backward (batch 1, H != W, scale_shift)', () => {
    assertBackendsAgree(() => {
      const r = make('scale_shift', 4, 6);
      const x = randTensor([1, 5, 3, 4], 35, { requiresGrad: true });
      const t = randTensor([1, 5], 36, { requiresGrad: true });
      const y = r.forward(x, t);
      y.backward(randTensor([1, 5, 3, 6], 37));
      return [y, x.grad!, t.grad!, ...r.parameters().map((p) => p.grad!)];
    }, { nmseTol: 1e-10 });
  });

  it('rejects a wrong channel count and a bad time_embedding_norm', () => {
    assert.throws(() => make('default').forward(randTensor([1, 2, 2, 3], 1), null), /expected \(N, H, W, 4\)/);
    assert.throws(() => new ResnetBlock2D({ inChannels: 4, tembChannels: 5, groups: 2, timeEmbeddingNorm: 'spatial' as never }), /'default' or 'scale_shift', found "spatial"/);
  });
});

describe('Downsample2D and Upsample2D', () => {
  it("downsample_padding 0 pads only bottom/right (diffusers' F.pad(0, 1, 0, 1)) before the stride-2 conv", () => {
    const d = new Downsample2D(3, { padding: 0 });
    const x = randTensor([1, 7, 5, 3], 40);
    const y = d.forward(x);
    assert.deepEqual(y.shape, [1, 3, 2, 3]); // floor((7 + 1 - 3) / 2) + 1, floor((5 + 1 - 3) / 2) + 1
    // Closed form: pad by hand with one zero row and column, then a plain stride-2 conv.
    const padded = new Float32Array(8 * 6 * 3);
    for (let i = 0; i < 7; i++) for (let j = 0; j < 5; j++) for (let c = 0; c < 3; c++) padded[(i * 6 + j) * 3 + c] = hostBuffer(x)[(i * 5 + j) * 3 + c]!;
    const ref = conv2d(tensor(padded, [1, 8, 6, 3]), d.conv.weight, d.conv.bias, { stride: 2 });
    assertClose(hostBuffer(y), hostBuffer(ref), { nmseTol: 1e-14 });
    assert.deepEqual(new Downsample2D(3, { padding: 1 }).forward(x).shape, [1, 4, 3, 3]);
  });

  it('Upsample2D with an identity kernel is nearest 2x; gradient check of both samplers', () => {
    const u = new Upsample2D(2);
    hostBuffer(u.conv.weight).fill(0);
    hostBuffer(u.conv.bias!).fill(0);
    for (let c = 0; c < 2; c++) hostBuffer(u.conv.weight)[((c * 3 + 1) * 3 + 1) * 2 + c] = 1; // w[c, 1, 1, c] = 1
    const x = randTensor([2, 3, 2, 2], 41);
    assert.deepEqual(hostBuffer(u.forward(x)), hostBuffer(upsampleNearest2x(x)));
    const up = new Upsample2D(2);
    gradcheckModule(up, (z) => up.forward(z), [randTensor([1, 2, 3, 2], 42)]);
    const down = new Downsample2D(2, { padding: 0 });
    gradcheckModule(down, (z) => down.forward(z), [randTensor([1, 5, 4, 2], 43)]);
  });

  it('NaN in one sample stays in that sample on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      withBackend(b, () => {
        const x = randTensor([2, 4, 4, 2], 44);
        hostBuffer(x)[5] = NaN;
        const r = new ResnetBlock2D({ inChannels: 2, outChannels: 2, tembChannels: null, groups: 1 });
        const y = new Upsample2D(2).forward(new Downsample2D(2).forward(r.forward(x, null)));
        const half = y.size / 2;
        assert.ok(hostBuffer(y).subarray(0, half).every(Number.isNaN), `${b}: sample 0 should be NaN everywhere (GroupNorm spreads it)`);
        assert.ok(hostBuffer(y).subarray(half).every(Number.isFinite), `${b}: sample 1 must stay finite`);
      });
    }
  });

  it('reject bad arguments with the layer name', () => {
    assert.throws(() => new Downsample2D(3, { padding: -1 }), ArgumentError);
    assert.throws(() => new Upsample2D(3).forward(randTensor([1, 2, 2, 4], 1)), /Upsample2D: input has shape \[1, 2, 2, 4\], expected \(N, H, W, 3\)/);
  });
});
