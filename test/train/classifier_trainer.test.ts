/**
 * Tests of the noise-conditional classifier's training: on tiny data the cross-entropy falls;
 * 8 steps straight equal 4 + resume 4 bit for bit (weights, metrics); the exported folder loads
 * and carries the schedule; a dataset without labels or a mismatched config is refused first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { trainClassifier } from '../../src/train/classifier_trainer.js';
import { NoisyClassifier } from '../../src/nn/noisy_classifier.js';
import { DataError } from '../../src/data/dataset.js';
import { TinyFashion, tempDir } from './fixtures.js';
import { TINY_CLASSIFIER } from '../nn/noisy_classifier.test.js';

const { sampleSize: _s, inChannels: _c, numClasses: _k, ...ARCH } = TINY_CLASSIFIER;
const base = { data: 'tiny', classifier: ARCH, batchSize: 12, lr: 3e-3, warmup: 2, seed: 3, schedulerConfig: { num_train_timesteps: 100 } };
const losses = (dir: string): number[] => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);

describe('trainClassifier', () => {
  const data = new TinyFashion(24);

  it('reduces the cross-entropy on tiny data and exports a loadable classifier with its schedule', async () => {
    const out = tempDir('clf');
    try {
      const r = await trainClassifier({ ...base, out, steps: 60, saveEvery: 1000, dataset: data });
      const l = losses(out);
      const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
      assert.equal(l.length, 60);
      assert.ok(mean(l.slice(-10)) < 0.8 * mean(l.slice(0, 10)), `first ${mean(l.slice(0, 10))}, last ${mean(l.slice(-10))}`);
      const clf = NoisyClassifier.fromPretrained(r.modelDir!);
      assert.equal(clf.config.numClasses, 3);
      assert.equal((JSON.parse(readFileSync(join(r.modelDir!, 'scheduler_config.json'), 'utf8')) as { num_train_timesteps: number }).num_train_timesteps, 100);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('resume is exact: 8 steps straight equal 4 + resume 4', async () => {
    const a = tempDir('clf-a');
    const b = tempDir('clf-b');
    try {
      await trainClassifier({ ...base, out: a, steps: 8, dataset: data });
      await trainClassifier({ ...base, out: b, steps: 4, dataset: data });
      await trainClassifier({ data: 'tiny', out: b, steps: 8, resume: true, dataset: data });
      const w = (d: string): Buffer => readFileSync(join(d, 'model', 'diffusion_pytorch_model.safetensors'));
      assert.ok(w(a).equals(w(b)));
      assert.deepEqual(losses(b), losses(a));
      assert.ok(existsSync(join(b, 'checkpoints', 'step-0000008', 'trainer_state.json')));
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('--resume of a run killed before its first checkpoint starts it again and equals a straight run (it was refused)', async () => {
    const a = tempDir('clf-a');
    const b = tempDir('clf-b');
    try {
      await trainClassifier({ ...base, out: a, steps: 4, dataset: data });
      await trainClassifier({ ...base, out: b, steps: 4, dataset: data });
      // What a kill during the first checkpoint leaves: the config, metrics lines, no checkpoint.
      rmSync(join(b, 'checkpoints'), { recursive: true, force: true });
      rmSync(join(b, 'latest.json'));
      rmSync(join(b, 'model'), { recursive: true, force: true });
      const logs: string[] = [];
      await trainClassifier({ data: 'tiny', out: b, resume: true, dataset: data }, { onLog: (m) => logs.push(m) });
      assert.ok(logs.some((m) => /has no checkpoint yet: starting the run again from step 0/.test(m)), logs.join('\n'));
      const w = (d: string): Buffer => readFileSync(join(d, 'model', 'diffusion_pytorch_model.safetensors'));
      assert.ok(w(a).equals(w(b)));
      assert.deepEqual(losses(b), losses(a));
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('refuses unlabelled data and a config that does not fit the data', async () => {
    const unlabelled = Object.assign(Object.create(Object.getPrototypeOf(data) as object) as TinyFashion, data, { numClasses: null });
    Object.defineProperty(unlabelled, 'numClasses', { value: null });
    await assert.rejects(trainClassifier({ ...base, out: join(tempDir('x'), 'r'), steps: 1, dataset: unlabelled }), (e: unknown) => e instanceof DataError && /has no labels/.test(e.message));
    await assert.rejects(trainClassifier({ ...base, classifier: { ...ARCH, numClasses: 5 }, out: join(tempDir('y'), 'r'), steps: 1, dataset: data }), /does not fit 'tiny-fashion' \(8x8x1, 3 classes\)/);
  });
});
