/**
 * Target 'model-folder': a diffusers pipeline folder (unet/config.json and its weights,
 * scheduler/scheduler_config.json, model_index.json, sampling_config.json; the SR3 seed adds
 * superres.json) with one file mutated, loaded the way `diffuse sample` and `diffuse upscale` do
 * (loadModelArg, loadSuperresModel) and sampled for a few steps: the load is a success or a clear
 * error naming the folder or the field, and a model that loads must not give NaN/Inf images
 * without a word (weights with NaN/Inf, scheduler configs, guidance weights).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UNet2DModel, configFromJSON } from '../../../src/nn/unet_2d.js';
import { writeSchedulerConfig, writeJSONAtomic, WEIGHTS_NAME, CONFIG_NAME, SCHEDULER_CONFIG_NAME } from '../../../src/io/checkpoint.js';
import { SAMPLING_CONFIG_NAME } from '../../../src/io/sampling_config.js';
import { SUPERRES_FILE } from '../../../src/train/objectives/superres.js';
import { loadModelArg } from '../../../src/cli/model_arg.js';
import { loadSuperresModel, upscale } from '../../../src/pipelines/superres.js';
import { generate } from '../../../src/pipelines/generate.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { TINY_UNET } from '../../train/fixtures.js';
import { mutateJson, namesTouched } from '../mutators/json.js';
import { mutateSafetensors } from './safetensors.js';
import { expectClear } from '../invariant.js';
import type { Rng } from '../rng.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

/** Makes the seed pipelines: 'cond' (class-conditional with guidance defaults) and 'sr' (SR3 x2). */
export function writeSeedPipelines(root: string): void {
  const cond = join(root, 'cond');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0 })).savePretrained(join(cond, 'unet'));
  writeSchedulerConfig(join(cond, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 1000, beta_schedule: 'linear', prediction_type: 'epsilon' });
  writeJSONAtomic(join(cond, 'model_index.json'), { _class_name: 'DDPMPipeline', unet: ['diffusers', 'UNet2DModel'], scheduler: ['diffusers', 'DDPMScheduler'] });
  writeJSONAtomic(join(cond, SAMPLING_CONFIG_NAME), { guidance_scale: 1.5, scheduler: 'ddim', num_inference_steps: 3 });
  const sr = join(root, 'sr');
  new UNet2DModel(configFromJSON({ ...TINY_UNET, dropout: 0, num_class_embeds: null, in_channels: 2 })).savePretrained(join(sr, 'unet'));
  writeSchedulerConfig(join(sr, 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 1000 });
  writeJSONAtomic(join(sr, 'model_index.json'), { _class_name: 'DDPMPipeline' });
  writeJSONAtomic(join(sr, SUPERRES_FILE), { task: 'superres', scale: 2, downsample: 'area', upsample: 'bicubic' });
}

/** Sets random float32 weights to NaN, ±Inf or a huge value (header kept). */
function poisonWeights(rng: Rng, file: Buffer): Buffer {
  const out = Buffer.from(file);
  const n = Number(out.readBigUInt64LE(0));
  const start = 8 + n;
  const count = Math.floor((out.length - start) / 4);
  const k = rng.pick([1, 1, 10, count]);
  const v = rng.pick([NaN, Infinity, -Infinity, 3e38]);
  for (let i = 0; i < Math.min(k, count); i++) out.writeFloatLE(v, start + 4 * (k >= count ? i : rng.int(count)));
  return out;
}

/**
 * Known hostile edits (issue 14, failures 4, 6 and 7), taken by the cases right after the
 * per-file ones so that every run, however short, tries them: sizes that allocate without bound,
 * guidance and schedules that give NaN.
 */
const KNOWN: readonly { file: string; set: Record<string, unknown> }[] = [
  { file: `unet/${CONFIG_NAME}`, set: { layers_per_block: 100000 } },
  { file: `unet/${CONFIG_NAME}`, set: { sample_size: [65536, 65536] } },
  { file: `unet/${CONFIG_NAME}`, set: { block_out_channels: [1048576, 1048576] } },
  { file: `unet/${CONFIG_NAME}`, set: { num_class_embeds: 1e9 } },
  { file: `unet/${CONFIG_NAME}`, set: { block_out_channels: Array.from({ length: 10000 }, () => 8), down_block_types: Array.from({ length: 10000 }, () => 'DownBlock2D'), up_block_types: Array.from({ length: 10000 }, () => 'UpBlock2D') } },
  { file: SAMPLING_CONFIG_NAME, set: { guidance_scale: 1e308 } },
  { file: `scheduler/${SCHEDULER_CONFIG_NAME}`, set: { beta_end: 10 } },
  { file: `scheduler/${SCHEDULER_CONFIG_NAME}`, set: { num_train_timesteps: 1e9 } },
];

interface Spec {
  kind: 'cond' | 'sr';
  file: string;
  keys: string[];
}

const FILES = [
  [6, `unet/${CONFIG_NAME}`],
  [3, `scheduler/${SCHEDULER_CONFIG_NAME}`],
  [3, SAMPLING_CONFIG_NAME],
  [1, 'model_index.json'],
  [3, `unet/${WEIGHTS_NAME}`],
] as const;

export const modelFolderTarget: Target = {
  name: 'model-folder',
  description: 'pipeline folders with config.json, scheduler_config.json, sampling_config.json, model_index.json, superres.json or weights mutated; loaded and sampled as diffuse sample/upscale do',
  timeoutMs: 30_000,
  async prepare(ctx: RunContext) {
    writeSeedPipelines(ctx.corpusDir);
  },
  async make(rng, caseDir, ctx, index): Promise<MadeCase> {
    const known = KNOWN[index - FILES.length - 1];
    if (known !== undefined) {
      cpSync(join(ctx.corpusDir, 'cond'), caseDir, { recursive: true });
      const path = join(caseDir, known.file);
      writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), ...known.set }, null, 2));
      const keys = Object.keys(known.set);
      const shown = JSON.stringify(known.set);
      return { spec: { kind: 'cond', file: known.file, keys } satisfies Spec, note: `cond ${known.file}: ${shown.length > 80 ? `${shown.slice(0, 80)}...` : shown}` };
    }
    // The first cases take each file in turn (the SR3 seed's superres.json last).
    const kind = index === FILES.length || (index > FILES.length && rng.chance(0.2)) ? 'sr' : 'cond';
    cpSync(join(ctx.corpusDir, kind), caseDir, { recursive: true });
    const files: (readonly [number, string])[] = kind === 'sr' ? [...FILES.filter(([, f]) => f !== SAMPLING_CONFIG_NAME), [3, SUPERRES_FILE]] : [...FILES];
    const file = index < FILES.length ? FILES[index]![1] : index === FILES.length ? SUPERRES_FILE : rng.weighted(files.map(([w, f]) => [w, f] as const));
    const path = join(caseDir, file);
    let keys: string[] = [];
    let note: string;
    if (file.endsWith('.safetensors')) {
      const bytes = readFileSync(path);
      if (rng.chance(0.5)) {
        writeFileSync(path, poisonWeights(rng, bytes));
        note = 'weights poisoned with NaN/Inf/huge values';
      } else {
        const m = mutateSafetensors(rng, bytes, bytes);
        writeFileSync(path, m.bytes);
        note = `weights: ${m.note}`;
      }
    } else {
      const original = readFileSync(path, 'utf8');
      const m = mutateJson(rng, original);
      writeFileSync(path, m.text);
      keys = namesTouched(m, original);
      note = `${file}: ${keys.slice(0, 4).join(', ') || 'root/text'} mutated`;
    }
    const spec: Spec = { kind, file, keys };
    return { spec, note: `${kind} ${note}` };
  },
  async run(raw, caseDir): Promise<Violation[]> {
    const spec = raw as Spec;
    const names = [caseDir, ...spec.keys.filter((k) => k.length > 2)];
    let images: Tensor | null = null;
    const r = await expectClear(() => {
      if (spec.kind === 'sr') {
        const sr = loadSuperresModel(caseDir);
        const lowRes = new Tensor(new Float32Array(16).fill(0.25), [4, 4, 1]); // (h, w, C)
        images = upscale({ model: sr.model, schedulerConfig: sr.schedulerConfig, scale: sr.scale, image: lowRes, scheduler: 'ddim', steps: 2, seed: 0 }).images;
        return;
      }
      const m = loadModelArg(caseDir);
      const steps = Math.min(m.sampling.numInferenceSteps ?? 3, 3);
      images = generate({ model: m.model, scheduler: m.sampling.scheduler ?? 'ddpm', schedulerConfig: m.schedulerConfig, steps, n: 1, seed: 0, guidanceScale: m.sampling.guidanceScale }).images;
    }, names);
    if (r.violations.length > 0 || images === null) return r.violations;
    const values = (images as Tensor).toArray();
    const bad = values.findIndex((v) => !Number.isFinite(v));
    return bad < 0 ? [] : [{ kind: 'silent-nonfinite', detail: `${basename(spec.file)} mutated: the images hold ${values[bad]} (index ${bad} of ${values.length}) and no error was raised` }];
  },
};
