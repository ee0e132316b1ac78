/**
 * The orientation check against its oracle, real images: with the shipped flip-free feature nets,
 * a set of real images passes against the real test split, the same set mirrored is flagged in
 * exactly the classes that have a direction (Fashion-MNIST's shoes; MNIST's asymmetric digits),
 * and a set with half its shoes mirrored (what a flip-trained generator draws) is flagged in the
 * shoe classes. Also the statistics of orientationCheck on given shares and mirrorImages itself.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FeatureNet } from '../../src/eval/feature_net.js';
import { mirrorImages, mirrorShares, orientationCheck, type MirrorShares } from '../../src/eval/orientation.js';
import { classBalancedIndices, labelledFromDataset, type LabelledImages } from '../../src/eval/labelled_images.js';
import { loadDataset } from '../../src/data/index.js';
import { packageRoot } from '../../src/io/package_root.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** The set with the images of `classes` mirrored, every other one (half of each class). */
function mirrorHalf(set: LabelledImages, classes: readonly number[]): LabelledImages {
  const [n, h, w, c] = set.images.shape as [number, number, number, number];
  const per = h * w * c;
  const data = Float32Array.from(set.images.toArray());
  const mirrored = mirrorImages(set.images).toArray();
  const seen = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const y = set.labels[i]!;
    const k = seen.get(y) ?? 0;
    seen.set(y, k + 1);
    if (classes.includes(y) && k % 2 === 0) data.set(mirrored.subarray(i * per, (i + 1) * per), i * per);
  }
  return { images: new Tensor(data, [n, h, w, c]), labels: set.labels };
}

for (const { data, directed, n } of [
  // Shoes point left; a mirrored T-shirt, trouser, dress or bag is still one.
  { data: 'fashion-mnist' as const, directed: [5, 7, 9], n: 2000 },
  // Digits with a direction; 0, 1 and 8 are close to their mirror images.
  { data: 'mnist' as const, directed: [2, 3, 4, 5, 6, 7, 9], n: 1000 },
]) {
  describe(`the orientation check with the shipped ${data} feature net`, () => {
    let net: FeatureNet;
    let real: LabelledImages;
    let testShares: MirrorShares;
    before(async () => {
      net = FeatureNet.fromPretrained(join(packageRoot(), 'models', 'feature-nets', data));
      const trainDs = await loadDataset(data, { split: 'train' });
      const testDs = await loadDataset(data, { split: 'test' });
      real = labelledFromDataset(trainDs, classBalancedIndices(trainDs, n, 7));
      testShares = mirrorShares(net, labelledFromDataset(testDs));
    });

    it('passes real images', () => {
      const r = orientationCheck(mirrorShares(net, real), testShares);
      assert.deepEqual(r.flagged, []);
      assert.equal(r.pass, true);
    });

    it('flags the same images mirrored, in the classes that have a direction', () => {
      const r = orientationCheck(mirrorShares(net, { images: mirrorImages(real.images), labels: real.labels }), testShares);
      for (const j of directed) assert.ok(r.flagged.includes(j), `class ${j} not flagged: mirrored ${r.samples.perClass[j]} vs real ${r.real.perClass[j]}`);
      assert.equal(r.pass, false);
    });

    it('flags a set with half of each directed class mirrored', () => {
      const r = orientationCheck(mirrorShares(net, mirrorHalf(real, directed)), testShares);
      for (const j of directed) assert.ok(r.flagged.includes(j), `class ${j} not flagged: ${r.samples.perClass[j]} vs real ${r.real.perClass[j]}`);
      for (const j of r.flagged) assert.ok(directed.includes(j), `class ${j} flagged though none of its images were mirrored`);
    });
  });
}

describe('orientationCheck and mirrorImages', () => {
  const shares = (perClass: number[], count: number): MirrorShares => ({ share: NaN, perClass, counts: perClass.map(() => count) });

  it('flags an excess that is large and significant, and nothing else', () => {
    const real = shares([0.5, 0.02, 0.02, 0.3], 1000);
    // 0.55 vs 0.5 at 100 images: 1 SE; 0.2 vs 0.02: about 10 SE; 0.06 vs 0.02: 2 SE; 0.25 vs 0.3: below.
    const r = orientationCheck(shares([0.55, 0.2, 0.06, 0.25], 100), real);
    assert.deepEqual(r.flagged, [1]);
    // The same 0.06 at 10,000 images is 0.04 over: significant but under the 0.05 floor.
    assert.deepEqual(orientationCheck(shares([0.5, 0.02, 0.06, 0.3], 10000), real).flagged, []);
    // Classes with no images are skipped.
    assert.deepEqual(orientationCheck({ share: NaN, perClass: [NaN, 1, 0, 0], counts: [0, 100, 100, 100] }, real).flagged, [1]);
  });

  it('mirrors each image left-right and back', () => {
    const x = new Tensor(Float32Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i), [2, 2, 3, 2]);
    const m = mirrorImages(x).toArray();
    // Image 0, row 0: pixels (0,1) (2,3) (4,5) -> (4,5) (2,3) (0,1).
    assert.deepEqual(Array.from(m.subarray(0, 6)), [4, 5, 2, 3, 0, 1]);
    assert.deepEqual(Array.from(mirrorImages(mirrorImages(x)).toArray()), Array.from(x.toArray()));
    assert.throws(() => mirrorImages(new Tensor(new Float32Array(4), [4])), /expected \(N, H, W, C\) images/);
  });
});
