/**
 * evaluateSamples end to end on tiny 8x8 data with a tiny trained feature net: real images scored
 * as samples sit at the real floor (identical sets: precision and recall ratios 1, FD 0, the same
 * CAS); copies of training images are flagged as memorised; a blurred set moves FD away from 0;
 * bad sets are refused. Also the degradations (blur keeps constants and mass, noise is clamped) and
 * labelled-subset helpers.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateSamples, type EvalCache } from '../../src/eval/evaluate.js';
import { trainFeatureNet } from '../../src/eval/train_feature_net.js';
import { gaussianBlur, addGaussianNoise } from '../../src/eval/degrade.js';
import { classBalancedIndices, labelledFromDataset, randomSubset, type LabelledImages } from '../../src/eval/labelled_images.js';
import type { FeatureNet } from '../../src/eval/feature_net.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import type { Dataset } from '../../src/data/dataset.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** Three classes of 8x8 images: a bright horizontal bar, a vertical bar, or a blob, placed at random. */
function makeSet(n: number, seed: number): LabelledImages {
  const u = hostBuffer(new Generator(seed).uniform([n * 67]));
  const data = new Float32Array(n * 64).fill(-1);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    labels[i] = k;
    const p = 1 + Math.floor(u[i * 67]! * 6);
    const level = 0.4 + 0.6 * u[i * 67 + 1]!;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      const on = k === 0 ? y === p : k === 1 ? x === p : Math.abs(y - p) + Math.abs(x - 3) <= 1;
      data[i * 64 + y * 8 + x] = (on ? level : -1) + 0.1 * (u[i * 67 + 3 + ((y * 8 + x) % 64)]! - 0.5);
    }
  }
  return { images: new Tensor(data, [n, 8, 8, 1]), labels };
}

/** A Dataset over a LabelledImages (for the subset helpers). */
function asDataset(s: LabelledImages): Dataset {
  return {
    name: 'tiny', length: s.labels.length, imageSize: 8, channels: 1, numClasses: 3, classNames: ['h', 'v', 'b'],
    get: (i) => ({ image: (hostBuffer(s.images) as Float32Array).slice(i * 64, (i + 1) * 64), label: s.labels[i]! }),
  };
}

describe('evaluateSamples', () => {
  const train = makeSet(300, 1);
  const test = makeSet(150, 2);
  let net: FeatureNet;
  before(() => {
    net = trainFeatureNet(train, { config: { imageSize: 8, inChannels: 1, numClasses: 3, channels: [8, 16], normNumGroups: 4 }, epochs: 3, batchSize: 30, lr: 5e-3, shift: 1 }).net;
  });

  it('scores the real floor set itself at the floor, and flags it as memorised', () => {
    const floorIndices = classBalancedIndices(asDataset(train), 60, 0);
    const floor = labelledFromDataset(asDataset(train), floorIndices);
    const r = evaluateSamples(floor, { featureNet: net, train, test, floorIndices, casSteps: 20, kidSubsets: 10 });
    assert.equal(r.n, 60);
    assert.equal(r.real.n, 60);
    assert.equal(r.samples.frechetDistance, r.real.frechetDistance);
    assert.equal(r.samples.precision, r.real.precision);
    assert.equal(r.samples.recall, r.real.recall);
    assert.deepEqual([r.bar.precisionRatio, r.bar.recallRatio], [1, 1]);
    assert.equal(r.samples.cas, r.real.cas);
    assert.equal(r.bar.casRatio, 1);
    // Training images are their own nearest neighbours: all flagged; test images at the quantile.
    assert.equal(r.samples.memorisation.rate, 1);
    assert.ok(Math.abs(r.real.memorisation - 0.05) < 0.01, `${r.real.memorisation}`);
    assert.equal(r.bar.pass, false);
    assert.equal(r.reference.precisionRecallSize, 60);
    assert.ok(r.samples.classifierAccuracy > 0.9, `accuracy ${r.samples.classifierAccuracy}`);
  });

  it('moves the Frechet distance when the images are blurred; skips CAS on request; reuses a cache', () => {
    const floorIndices = classBalancedIndices(asDataset(train), 60, 0);
    const fresh = makeSet(60, 3);
    const cache: EvalCache = {};
    const sharp = evaluateSamples(fresh, { featureNet: net, train, test, floorIndices, cas: false, kidSubsets: 10, cache });
    assert.ok(cache.test !== undefined && cache.testNearest?.length === 150);
    // The cached reference gives the same report as computing it afresh.
    assert.deepEqual(evaluateSamples(fresh, { featureNet: net, train, test, floorIndices, cas: false, kidSubsets: 10 }), sharp);
    const blurred = evaluateSamples({ images: gaussianBlur(fresh.images, 1.5), labels: fresh.labels }, { featureNet: net, train, test, floorIndices, cas: false, kidSubsets: 10 });
    assert.ok(blurred.samples.frechetDistance > 2 * sharp.samples.frechetDistance, `${blurred.samples.frechetDistance} vs ${sharp.samples.frechetDistance}`);
    assert.equal(sharp.samples.cas, null);
    assert.equal(sharp.bar.casRatio, null);
    assert.equal(sharp.reference.casSteps, null);
    // Fresh draws are not copies: flagged at about the rate of test images.
    assert.ok(sharp.samples.memorisation.rate < 0.2, `${sharp.samples.memorisation.rate}`);
  });

  it('refuses images of another size and labels outside the classes', () => {
    const floorIndices = classBalancedIndices(asDataset(train), 60, 0);
    const wrong = { images: new Tensor(new Float32Array(10 * 100), [10, 10, 10, 1]), labels: new Int32Array(10) };
    assert.throws(() => evaluateSamples(wrong, { featureNet: net, train, test, floorIndices }), /samples must be \(N, 8, 8, 1\) images \(the feature net's input\), found \[10, 10, 10, 1\]/);
    const bad = makeSet(12, 4);
    bad.labels[5] = 7;
    assert.throws(() => evaluateSamples(bad, { featureNet: net, train, test, floorIndices }), /samples label 5 is 7; the feature net knows classes 0..2/);
  });
});

describe('degradations and subsets', () => {
  it('blur keeps a constant image and the mean of a centred spot; noise is seeded and clamped', () => {
    const c = new Tensor(new Float32Array(2 * 8 * 8).fill(0.3), [2, 8, 8, 1]);
    assert.ok(hostBuffer(gaussianBlur(c, 1)).every((v) => Math.abs(v - 0.3) < 1e-6));
    const spot = new Float32Array(16 * 16);
    spot[8 * 16 + 8] = 1;
    const b = hostBuffer(gaussianBlur(new Tensor(spot, [1, 16, 16, 1]), 1));
    assert.ok(Math.abs(Array.from(b).reduce((s, v) => s + v, 0) - 1) < 1e-5);
    assert.ok(b[8 * 16 + 8]! < 0.2 && b[8 * 16 + 8]! > 0.1, `${b[8 * 16 + 8]}`); // 1 / (2 pi) in the continuum
    const x = new Tensor(new Float32Array(64).fill(0.95), [1, 8, 8, 1]);
    const n1 = hostBuffer(addGaussianNoise(x, 0.5, 1));
    assert.deepEqual([...n1], [...hostBuffer(addGaussianNoise(x, 0.5, 1))]);
    assert.ok(n1.every((v) => v <= 1 && v >= -1) && n1.some((v) => v === 1));
    assert.throws(() => gaussianBlur(x, -1), /sigma must be a number >= 0/);
  });

  it('class-balanced subsets hold n / K of each class without repeats; n must be a multiple of K', () => {
    const ds = asDataset(makeSet(90, 5));
    const idx = classBalancedIndices(ds, 30, 1);
    assert.equal(new Set(idx).size, 30);
    const counts = [0, 0, 0];
    for (const i of idx) counts[ds.get(i).label!]!++;
    assert.deepEqual(counts, [10, 10, 10]);
    assert.throws(() => classBalancedIndices(ds, 31, 1), /n must be a positive multiple of the 3 classes, found 31/);
    assert.throws(() => classBalancedIndices(ds, 99, 1), /class 0 has 30 examples, fewer than the 33 per class/);
    assert.deepEqual([...randomSubset(5, 9, 0)], [0, 1, 2, 3, 4]);
    assert.equal(new Set(randomSubset(50, 10, 0)).size, 10);
  });
});
