/**
 * Target 'run-folder': a real two-step training run (tiny U-Net, 8x8 data) with one of
 * latest.json, a checkpoint's trainer_state.json, train_config.json, metrics.jsonl or
 * optimizer.safetensors mutated, then used as a user would: `diffuse sample --model RUN`
 * (loadModelArg), `diffuse plot RUN` (the loss curve) and `diffuse train --resume` for one more step.
 */
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { train } from '../../../src/train/trainer.js';
import { loadModelArg } from '../../../src/cli/model_arg.js';
import { CHECKPOINTS_DIR, METRICS_NAME, OPTIMIZER_NAME, TRAIN_CONFIG_NAME } from '../../../src/train/checkpoint.js';
import { writeLossCurve } from '../../../src/train/loss_curve.js';
import { LATEST_NAME, TRAINER_STATE_NAME } from '../../../src/io/model_folder.js';
import { TINY_UNET, TinyFashion } from '../../train/fixtures.js';
import { mutateJson, namesTouched } from '../mutators/json.js';
import { mutateSafetensors } from './safetensors.js';
import { mutateBytes } from '../mutators/bytes.js';
import { expectClear } from '../invariant.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

/** Seed run length: two steps, a checkpoint after each. */
const SEED_STEPS = 2;

let data: TinyFashion | null = null;
const tinyData = (): TinyFashion => (data ??= new TinyFashion(8));

interface Spec {
  file: string;
  keys: string[];
}

export const runFolderTarget: Target = {
  name: 'run-folder',
  description: 'run folders with latest.json, trainer_state.json, train_config.json, metrics.jsonl or optimizer.safetensors mutated; sampled, plotted and resumed',
  timeoutMs: 60_000,
  async prepare(ctx: RunContext) {
    await train({ data: 'tiny-fashion', unet: { ...TINY_UNET }, batchSize: 2, lr: 1e-3, warmup: 1, seed: 1, out: join(ctx.corpusDir, 'run'), steps: SEED_STEPS, saveEvery: 1, keep: 2, dataset: tinyData() });
  },
  async make(rng, caseDir, ctx, index): Promise<MadeCase> {
    cpSync(join(ctx.corpusDir, 'run'), caseDir, { recursive: true });
    const ckpts = readdirSync(join(caseDir, CHECKPOINTS_DIR)).filter((n) => n.startsWith('step-')).sort();
    const ckpt = join(CHECKPOINTS_DIR, rng.pick(ckpts));
    const files = [
      [3, LATEST_NAME],
      [3, join(ckpt, TRAINER_STATE_NAME)],
      [3, TRAIN_CONFIG_NAME],
      [1, join(ckpt, OPTIMIZER_NAME)],
      [2, METRICS_NAME],
    ] as const;
    // The first cases take each file in turn.
    const file = index < files.length ? files[index]![1] : rng.weighted(files);
    const path = join(caseDir, file);
    if (file === METRICS_NAME) {
      // One line mutated as JSON, or the bytes of the file.
      const lines = readFileSync(path, 'utf8').split('\n');
      const i = rng.int(Math.max(1, lines.length - 1));
      let keys: string[] = [];
      if (rng.chance(0.7) && lines[i] !== undefined && lines[i] !== '') {
        const original = lines[i]!;
        const m = mutateJson(rng, original);
        lines[i] = m.text.replace(/\n\s*/g, ' ');
        keys = namesTouched(m, original);
        writeFileSync(path, lines.join('\n'));
      } else writeFileSync(path, mutateBytes(rng, readFileSync(path), null, 3));
      return { spec: { file, keys } satisfies Spec, note: `${file}: line ${i + 1} ${keys.slice(0, 4).join(', ')} mutated` };
    }
    if (file.endsWith('.safetensors')) {
      const b = readFileSync(path);
      const m = mutateSafetensors(rng, b, b);
      writeFileSync(path, m.bytes);
      return { spec: { file, keys: [] } satisfies Spec, note: `${file}: ${m.note}` };
    }
    const original = readFileSync(path, 'utf8');
    const m = mutateJson(rng, original);
    writeFileSync(path, m.text);
    return { spec: { file, keys: namesTouched(m, original) } satisfies Spec, note: `${file}: ${m.keys.slice(0, 4).join(', ') || 'root/text'} mutated` };
  },
  async run(raw, caseDir): Promise<Violation[]> {
    const spec = raw as Spec;
    const names = [caseDir, ...spec.keys.filter((k) => k.length > 2)];
    const sample = await expectClear(() => loadModelArg(caseDir), names);
    const plot = await expectClear(() => writeLossCurve(caseDir, join(caseDir, 'loss.png')), names);
    const resume = await expectClear(() => train({ data: 'tiny-fashion', out: caseDir, resume: true, steps: SEED_STEPS + 1, dataset: tinyData() }), names);
    return [...sample.violations.map((v) => ({ ...v, detail: `sample: ${v.detail}` })), ...plot.violations.map((v) => ({ ...v, detail: `plot: ${v.detail}` })), ...resume.violations.map((v) => ({ ...v, detail: `train --resume: ${v.detail}` }))];
  },
};
