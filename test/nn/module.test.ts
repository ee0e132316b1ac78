/** Module: PyTorch dotted names and order, state dicts (errors list the keys), modes, casts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Module, ModuleList, StateDictError } from '../../src/nn/module.js';
import { Conv2d, Linear, GroupNorm, Dropout } from '../../src/nn/layers.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ones, zeros } from '../../src/tensor/create.js';
import { ShapeError, ArgumentError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

class Block extends Module {
  readonly norm: GroupNorm;
  readonly layers: ModuleList<Linear>;
  readonly drop: Dropout;
  constructor() {
    super();
    this.registerParameter('scale', ones([3]));
    this.norm = this.registerModule('norm', new GroupNorm(1, 3));
    this.layers = this.registerModule('layers', new ModuleList([new Linear(3, 4), new Linear(4, 3, { bias: false })]));
    this.drop = this.registerModule('drop', new Dropout(0.1));
  }
}

describe('Module', () => {
  it('names parameters with dotted PyTorch paths, own parameters first, in registration order', () => {
    const b = new Block();
    assert.deepEqual(
      b.namedParameters().map(([n, t]) => `${n}:${t.shape.join('x')}`),
      ['scale:3', 'norm.weight:3', 'norm.bias:3', 'layers.0.weight:4x3', 'layers.0.bias:4', 'layers.1.weight:3x4'],
    );
    assert.equal(b.numParameters(), 3 + 6 + 12 + 4 + 12);
    assert.ok(b.parameters().every((p) => p.requiresGrad));
    assert.deepEqual(b.namedModules().map(([n]) => n), ['', 'norm', 'layers', 'layers.0', 'layers.1', 'drop']);
  });

  it('stateDict -> loadStateDict round-trips values in place', () => {
    const a = new Block();
    const b = new Block();
    hostBuffer(a.layers.at(0).weight).fill(0.25);
    const before = b.layers.at(0).weight;
    const r = b.loadStateDict(a.stateDict());
    assert.deepEqual(r, { missingKeys: [], unexpectedKeys: [] });
    assert.equal(b.layers.at(0).weight, before, 'loaded in place (optimizer references stay valid)');
    assert.deepEqual([...hostBuffer(b.layers.at(0).weight)], new Array(12).fill(0.25));
  });

  it('a bad state dict fails listing every missing, unexpected and mis-shaped key, and changes nothing', () => {
    const b = new Block();
    const sd = new Block().stateDict();
    sd.delete('norm.bias');
    sd.delete('layers.1.weight');
    sd.set('layers.2.weight', zeros([1]));
    sd.set('scale', zeros([4]));
    const snapshot = Float32Array.from(hostBuffer(b.layers.at(0).weight));
    assert.throws(
      () => b.loadStateDict(sd),
      (e: unknown) =>
        e instanceof StateDictError &&
        /missing keys \(2\): norm\.bias, layers\.1\.weight/.test(e.message) &&
        /unexpected keys \(1\): layers\.2\.weight/.test(e.message) &&
        /shape mismatches \(1\): scale \(expected \[3\], found \[4\]\)/.test(e.message),
    );
    assert.deepEqual(hostBuffer(b.layers.at(0).weight), snapshot);
  });

  it('strict: false tolerates missing/unexpected keys and reports them, but not shape mismatches', () => {
    const b = new Block();
    const r = b.loadStateDict({ scale: { shape: [3], data: [1, 2, 3] }, extra: zeros([2]) }, { strict: false });
    assert.equal(r.missingKeys.length, 5);
    assert.deepEqual(r.unexpectedKeys, ['extra']);
    assert.deepEqual([...hostBuffer(b.parameters()[0]!)], [1, 2, 3]);
    assert.throws(() => b.loadStateDict({ scale: zeros([2]) }, { strict: false }), /shape mismatches \(1\): scale/);
  });

  it('train/eval propagate to every descendant', () => {
    const b = new Block();
    assert.ok(b.drop.training);
    b.eval();
    assert.ok(b.namedModules().every(([, m]) => !m.training));
    b.train();
    assert.ok(b.namedModules().every(([, m]) => m.training));
  });

  it('to(float64) casts every parameter; setParameter swaps one; zeroGrad clears gradients', () => {
    const b = new Block().to('float64');
    assert.ok(b.parameters().every((p) => p.dtype === 'float64' && p.requiresGrad));
    const t = new Tensor(new Float64Array(12), [4, 3]);
    b.setParameter('layers.0.weight', t);
    assert.equal(b.layers.at(0).weight, t);
    assert.throws(() => b.setParameter('layers.0.weight', new Tensor(new Float64Array(3), [3])), ShapeError);
    assert.throws(() => b.setParameter('layers.9.weight', t), ArgumentError);
    b.parameters()[0]!.grad = ones([3]);
    b.zeroGrad();
    assert.ok(b.parameters().every((p) => p.grad === null));
  });

  it('rejects registering a name twice and a bad ModuleList index', () => {
    class Twice extends Module {
      constructor() {
        super();
        this.registerParameter('w', ones([1]));
        this.registerModule('w', new Conv2d(1, 1, 1));
      }
    }
    assert.throws(() => new Twice(), /'w' is already registered/);
    assert.throws(() => new ModuleList([new Linear(1, 1)]).at(3), /index 3 is out of range \(length 1\)/);
  });
});
