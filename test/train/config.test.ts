/** Tests of the training config: defaults, validation messages, JSON round trip, LR warm-up/cosine and EMA-decay closed forms. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFlip, resolveTrainConfig, trainConfigToJSON, trainConfigFromJSON, learningRate, emaDecayAt, TRAIN_DEFAULTS } from '../../src/train/config.js';
import { ArgumentError } from '../../src/tensor/errors.js';

describe('train config', () => {
  it('fills defaults and round-trips through JSON', () => {
    const c = resolveTrainConfig({ data: 'fashion-mnist', out: 'runs/fm' });
    assert.equal(c.batchSize, 128);
    assert.equal(c.keep, 3);
    assert.equal(c.predictionType, 'epsilon');
    assert.deepEqual({ ...c, data: undefined, out: undefined }, { ...TRAIN_DEFAULTS, data: undefined, out: undefined });
    const j = JSON.parse(JSON.stringify(trainConfigToJSON({ ...c, minSnrGamma: 5, unet: { a: 1 } }))) as unknown;
    assert.deepEqual(trainConfigFromJSON(j), { ...c, minSnrGamma: 5, unet: { a: 1 } });
    // Explicit undefined means the default.
    assert.equal(resolveTrainConfig({ data: 'd', out: 'o', steps: undefined as unknown as number }).steps, TRAIN_DEFAULTS.steps);
  });

  it('rejects bad values with messages naming the option, the expectation and the value', () => {
    const bad = (extra: Record<string, unknown>, re: RegExp) =>
      assert.throws(() => resolveTrainConfig({ data: 'd', out: 'o', ...extra }), (e: unknown) => e instanceof ArgumentError && re.test(e.message), JSON.stringify(extra));
    bad({ steps: 0 }, /'steps' must be an integer >= 1, found 0/);
    bad({ batchSize: 2.5 }, /'batchSize' must be an integer >= 1, found 2.5/);
    bad({ lr: 0 }, /'lr' must be a number in \(0, 1\], found 0/);
    bad({ lr: NaN }, /'lr' must be a number in \(0, 1\], found NaN/);
    bad({ emaDecay: 1.5 }, /'emaDecay' must be a number in \[0, 1\], found 1.5/);
    bad({ classDropout: 1 }, /'classDropout' must be a probability in \[0, 1\)/);
    bad({ predictionType: 'eps' }, /'predictionType' must be one of epsilon, sample, v_prediction, found "eps"/);
    bad({ betaSchedule: 'cosine' }, /'betaSchedule' must be one of linear, scaled_linear, squaredcos_cap_v2, sigmoid, found "cosine"/);
    bad({ minSnrGamma: 0 }, /'minSnrGamma' must be null or a number > 0, found 0/);
    bad({ flip: 'yes' }, /'flip' must be true or false, found "yes"/);
    bad({ seed: -1 }, /'seed' must be an integer >= 0, found -1/);
    bad({ lrSchedule: 'step' }, /'lrSchedule' must be one of constant, cosine/);
    bad({ data: '' }, /'data' must be 'fashion-mnist', 'mnist' or a folder path, found ""/);
    bad({ timeLimit: 0 }, /'timeLimit' must be null or a number > 0, found 0/);
    bad({ stepz: 3 }, /unknown option\(s\) stepz/);
    assert.throws(() => trainConfigFromJSON([1]), /expected a JSON object/);
    assert.throws(() => trainConfigFromJSON({ data: 'd', out: 'o', keep: 0 }, 'run/train_config.json'), /run\/train_config.json: 'keep' must be an integer >= 1, found 0/);
  });

  it('--flip is refused for the bundled datasets (their images have a direction), a warning for a folder', async () => {
    for (const data of ['fashion-mnist', 'mnist']) {
      assert.throws(() => checkFlip({ data, flip: true }), (e: unknown) => e instanceof ArgumentError && new RegExp(`--flip is refused for ${data}: .*mirror.*Train without --flip`).test(e.message));
      assert.equal(checkFlip({ data, flip: false }), null);
    }
    assert.match(checkFlip({ data: 'photos/', flip: true })!, /learns the mirror image of every training image/);
    // train() refuses before it loads anything or creates the run folder.
    const { train } = await import('../../src/train/trainer.js');
    const out = join(tmpdir(), `diffuse-flip-${process.pid}`);
    await assert.rejects(train({ data: 'fashion-mnist', out, flip: true, steps: 1 }), /--flip is refused for fashion-mnist: every Fashion-MNIST shoe/);
    assert.equal(existsSync(out), false);
  });

  it('learning rate: linear warm-up from lr/warmup, then constant or cosine to 0', () => {
    const c = { lr: 1e-3, warmup: 4, steps: 104, lrSchedule: 'constant' as const };
    assert.deepEqual([0, 1, 2, 3, 4, 50].map((s) => learningRate(c, s)), [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]);
    const cos = { ...c, lrSchedule: 'cosine' as const };
    assert.equal(learningRate(cos, 4), 1e-3);
    assert.ok(Math.abs(learningRate(cos, 54) - 5e-4) < 1e-15);
    assert.ok(Math.abs(learningRate(cos, 104)) < 1e-18);
    assert.equal(learningRate({ ...c, warmup: 0 }, 0), 1e-3);
  });

  it("EMA decay follows diffusers' EMAModel defaults: 0 at the first update, then min(max, (1+s)/(10+s))", () => {
    assert.equal(emaDecayAt(0.999, 1), 0);
    assert.equal(emaDecayAt(0.999, 2), 2 / 11);
    assert.equal(emaDecayAt(0.999, 11), 11 / 20);
    assert.equal(emaDecayAt(0.999, 100000), 0.999);
    assert.equal(emaDecayAt(0.5, 20), 0.5);
  });
});
