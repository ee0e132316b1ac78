/**
 * Tests of the noise-conditional classifier: gradient check of the whole network (float64 finite
 * differences, reference backend: the input and a parameter of every kind of part), its input
 * gradient grad_x sum log p(y | x, t) (classifier guidance's g) against finite differences of the
 * log-probabilities, save/load round trip, and config errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoisyClassifier, classifierConfigFromJSON, classifierConfigToJSON, type NoisyClassifierConfig } from '../../src/nn/noisy_classifier.js';
import { classifierLogProbGrad } from '../../src/sampling/classifier_guidance.js';
import { withBackend } from '../../src/backend/backend.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { maxAbs } from '../helpers/closeness.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** 8x8x1, two levels (attention in the second and in the mid block), 3 classes. */
export const TINY_CLASSIFIER: Partial<NoisyClassifierConfig> = {
  sampleSize: 8,
  inChannels: 1,
  numClasses: 3,
  blockOutChannels: [4, 8],
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'],
  layersPerBlock: 1,
  attentionHeadDim: 4,
  normNumGroups: 2,
};

/** log p(y_i | x_i, t) for every row, in float64. */
function logProbs(clf: NoisyClassifier, x: Tensor, t: number[], y: number[]): number[] {
  const z = noGrad(() => clf.forward(x, t));
  const k = z.shape[1]!;
  return y.map((c, i) => {
    const row = Array.from(hostBuffer(z).subarray(i * k, (i + 1) * k));
    const m = Math.max(...row);
    return row[c]! - m - Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  });
}

describe('NoisyClassifier', () => {
  it('gradient check (float64): the input and a parameter from every kind of part', () => {
    const clf = new NoisyClassifier(TINY_CLASSIFIER).to('float64');
    clf.parameters().forEach((p, i) => hostBuffer(p).set(hostBuffer(randTensor([p.size], 200 + i, { lo: -0.5, hi: 0.5, dtype: 'float64' }))));
    const names = ['conv_in.weight', 'time_embedding.linear_1.bias', 'down_blocks.0.resnets.0.conv1.bias', 'down_blocks.0.downsamplers.0.conv.bias', 'down_blocks.1.attentions.0.to_q.weight', 'mid_block.attentions.0.group_norm.weight', 'mid_block.resnets.1.time_emb_proj.bias', 'norm_out.bias', 'head.weight'];
    const named = new Map(clf.namedParameters());
    gradcheck(
      (x, ...ps) => {
        names.forEach((n, i) => clf.setParameter(n, ps[i]!));
        return clf.forward(x, [3, 700]);
      },
      [randTensor([2, 8, 8, 1], 9), ...names.map((n) => named.get(n)!)],
      // to_q's gradient is small (max ~1e-4 through a softmax over 16 positions): relative error 1e-11 there.
      { nmseTol: 1e-9 },
    );
  });

  it('its input gradient of sum log p(y | x_t, t) matches central finite differences', () => {
    withBackend('reference', () => {
      const clf = new NoisyClassifier(TINY_CLASSIFIER).to('float64');
      clf.parameters().forEach((p, i) => hostBuffer(p).set(hostBuffer(randTensor([p.size], 300 + i, { lo: -0.5, hi: 0.5, dtype: 'float64' }))));
      const x = randTensor([2, 8, 8, 1], 4, { dtype: 'float64' });
      const y = [2, 0];
      const t = 321;
      const g = classifierLogProbGrad(clf, x, t, y);
      const eps = 1e-6;
      const numeric = new Float64Array(x.size);
      for (let k = 0; k < x.size; k++) {
        const orig = hostBuffer(x)[k]!;
        hostBuffer(x)[k] = orig + eps;
        const up = logProbs(clf, x, [t, t], y).reduce((a, b) => a + b, 0);
        hostBuffer(x)[k] = orig - eps;
        const down = logProbs(clf, x, [t, t], y).reduce((a, b) => a + b, 0);
        hostBuffer(x)[k] = orig;
        numeric[k] = (up - down) / (2 * eps);
      }
      assert.ok(maxAbs(hostBuffer(g), numeric) < 1e-7, `max abs error ${maxAbs(hostBuffer(g), numeric)}`);
      // The classifier's weights received no gradient (they are frozen while guiding) and still require it.
      assert.ok(clf.parameters().every((p) => p.grad === null && p.requiresGrad));
    });
  });

  it('round-trips through savePretrained / fromPretrained; bad configs name the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-clf-'));
    try {
      const clf = new NoisyClassifier(TINY_CLASSIFIER);
      clf.savePretrained(dir);
      const back = NoisyClassifier.fromPretrained(dir);
      const x = randTensor([3, 8, 8, 1], 1);
      assert.deepEqual(Array.from(hostBuffer(noGrad(() => back.forward(x, 10)))), Array.from(hostBuffer(noGrad(() => clf.forward(x, 10)))));
      assert.deepEqual(classifierConfigFromJSON(classifierConfigToJSON(back.config as NoisyClassifierConfig)), back.config);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => new NoisyClassifier({ ...TINY_CLASSIFIER, numClasses: 1 }), /'num_classes' is 1; expected an integer >= 2/);
    assert.throws(() => new NoisyClassifier({ ...TINY_CLASSIFIER, normNumGroups: 3 }), /'norm_num_groups' is 3/);
    assert.throws(() => classifierConfigFromJSON({ _class_name: 'UNet2DModel' }), /expected "NoisyClassifier"/);
    assert.throws(() => new NoisyClassifier(TINY_CLASSIFIER).forward(randTensor([1, 8, 8, 2], 1), 0), /expected \(N, H, W, 1\)/);
  });
});
