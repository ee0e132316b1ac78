/**
 * The evaluation feature net and its loss: softmax cross-entropy against its closed form and
 * finite differences; the net's shapes, logits = head(features), gradients
 * through the whole net by finite differences (float64, reference backend); save/load round trip;
 * a few training steps separate two easy classes.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeatureNet, type FeatureNetConfig } from '../../src/eval/feature_net.js';
import { softmaxCrossEntropy, argmaxRows } from '../../src/eval/cross_entropy.js';
import { trainFeatureNet } from '../../src/eval/train_feature_net.js';
import { accuracyOf, classifierAccuracy } from '../../src/eval/accuracy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Generator } from '../../src/tensor/random.js';
import { withBackend } from '../../src/backend/backend.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** 8x8 grayscale, 3 classes, 8-d features. */
const TINY: Partial<FeatureNetConfig> = { imageSize: 8, inChannels: 1, numClasses: 3, channels: [4, 8], normNumGroups: 2 };

describe('softmaxCrossEntropy', () => {
  it('matches log-sum-exp minus the true logit, stays finite for huge logits, and gradchecks', () => {
    const z = tensor([1, 2, 3, -1, 0, 1000], [2, 3]);
    const l0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3;
    const l1 = 1000 - 1000 + Math.log(1 + Math.exp(-1001) + Math.exp(-1000)) + 1000 - 0; // label 1: logit 0
    const got = hostBuffer(softmaxCrossEntropy(z, [2, 1]))[0]!;
    assert.ok(Math.abs(got - (l0 + l1) / 2) < 1e-3, `${got}`);
    gradcheck((x) => softmaxCrossEntropy(x, [0, 2, 1, 1]), [randTensor([4, 3], 1, { lo: -3, hi: 3 })]);
  });

  it('rejects labels out of range and a label count that does not match', () => {
    assert.throws(() => softmaxCrossEntropy(tensor([1, 2], [1, 2]), [2]), /labels\[0\] must be an integer in \[0, 2\), found 2/);
    assert.throws(() => softmaxCrossEntropy(tensor([1, 2], [1, 2]), [0, 1]), /2 labels for 1 rows/);
  });

  it('argmaxRows picks the first maximum and -1 for a NaN row', () => {
    assert.deepEqual([...argmaxRows(tensor([1, 3, 3, NaN, 0, 1], [2, 3]))], [1, -1]);
  });
});

describe('FeatureNet', () => {
  const root = mkdtempSync(join(tmpdir(), 'diffuse-featurenet-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('maps (N, S, S, C) to features (N, last channels) and logits (N, K) = head(features)', () => {
    const net = new FeatureNet(TINY, { gen: new Generator(1) });
    const x = randTensor([3, 8, 8, 1], 2);
    const { features, logits } = noGrad(() => net.forward(x));
    assert.deepEqual(features.shape, [3, 8]);
    assert.deepEqual(logits.shape, [3, 3]);
    assert.equal(net.featureDim, 8);
    // logits = head(features): recompute by hand.
    const w = hostBuffer(net.head.weight);
    const b = hostBuffer(net.head.bias!);
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 3; k++) {
        let s = b[k]!;
        for (let j = 0; j < 8; j++) s += w[k * 8 + j]! * hostBuffer(features)[i * 8 + j]!;
        assert.ok(Math.abs(s - hostBuffer(logits)[i * 3 + k]!) < 1e-5);
      }
    }
    // embed() in batches of 2 gives the same features as one forward.
    const e = net.embed(x, 2);
    for (let i = 0; i < features.size; i++) assert.ok(Math.abs(e.features[i]! - hostBuffer(features)[i]!) < 1e-6);
    assert.deepEqual([...e.predictions], [...argmaxRows(logits)]);
    assert.throws(() => net.forward(randTensor([1, 9, 9, 1], 3)), /input must be \(N, 8, 8, 1\) images, found shape \[1, 9, 9, 1\]/);
  });

  it('backpropagates correctly through every layer (finite differences, float64)', () => {
    withBackend('reference', () => {
      const net = new FeatureNet(TINY, { gen: new Generator(4) }).to('float64');
      const x = randTensor([2, 8, 8, 1], 5);
      gradcheck((xi) => net.forward(xi).features, [x], { nmseTol: 1e-10 });
      const w = net.levels.at(0).conv.weight;
      gradcheck((xi, wi) => {
        net.setParameter('levels.0.conv.weight', wi!);
        return softmaxCrossEntropy(net.forward(xi!).logits, [2, 0]);
      }, [x, new Tensor(Float32Array.from(hostBuffer(w)), w.shape)], { nmseTol: 1e-10 });
    });
  });

  it('round-trips through savePretrained / fromPretrained, and names a bad folder', () => {
    const net = new FeatureNet(TINY, { gen: new Generator(6) });
    const dir = join(root, 'net');
    net.savePretrained(dir);
    const back = FeatureNet.fromPretrained(dir);
    const x = randTensor([2, 8, 8, 1], 7);
    const a = noGrad(() => hostBuffer(net.forward(x).logits));
    const b = noGrad(() => hostBuffer(back.forward(x).logits));
    assert.deepEqual([...b], [...a]);
    assert.deepEqual(back.config, net.config);
    assert.throws(() => FeatureNet.fromPretrained(join(root, 'missing')), /no config.json; expected a feature-net folder/);
    writeFileSync(join(root, 'config.json'), JSON.stringify({ _class_name: 'UNet2DModel' }));
    assert.throws(() => FeatureNet.fromPretrained(root), /not a FeatureNet config/);
  });

  it('learns two easy classes in a few dozen steps (bright top half vs bright bottom half)', () => {
    const n = 64;
    const data = new Float32Array(n * 64).fill(-1);
    const labels = new Int32Array(n);
    const noise = hostBuffer(new Generator(8).uniform([n * 64]));
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
        const bright = labels[i] === 0 ? y < 4 : y >= 4;
        data[i * 64 + y * 8 + x] = (bright ? 0.6 : -0.6) + 0.4 * (noise[i * 64 + y * 8 + x]! - 0.5);
      }
    }
    const set = { images: new Tensor(data, [n, 8, 8, 1]), labels };
    const { net, steps } = trainFeatureNet(set, { config: { ...TINY, numClasses: 2 }, epochs: 6, batchSize: 16, lr: 1e-2, shift: 1, flip: true, seed: 1 });
    assert.equal(steps, 24);
    assert.equal(classifierAccuracy(net, set).accuracy, 1);
  });
});

describe('accuracyOf', () => {
  it('counts overall and per class', () => {
    assert.deepEqual(accuracyOf(Int32Array.of(0, 1, 1, 2), Int32Array.of(0, 1, 0, 0), 3), { accuracy: 0.5, perClass: [1 / 3, 1, NaN] });
  });
});
