/**
 * `diffuse sample --scheduler pc|ode` (or `--sde-sampler pc|ode`): sampling a score-SDE model (or a
 * DDPM model read as the VP SDE) with predictor-corrector sampling or the probability-flow ODE,
 * through the engine's SDE adapter (sampling/sde_process.ts). `diffuse sample` parses its flags
 * once (these among them) and hands them here when the registry says the method is an SDE sampler,
 * or when the model was trained with --sde and no --scheduler is given.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { UsageError } from '../../tensor/errors.js';
import { Generator } from '../../tensor/random.js';
import { clamp } from '../../ops/scalar.js';
import { writePngGrid } from '../../io/png.js';
import { readSchedulerConfig } from '../../io/checkpoint.js';
import { resolveModelDir } from '../../io/model_folder.js';
import { ProgressBar } from '../progress.js';
import { resolveClassRefs } from '../class_arg.js';
import { CLASS_FLAG, MAX_MEMORY_FLAG, applyMaxMemory, MODEL_FLAG, SEED_FLAG, countFlag, formatFlagHelp, parseCommandFlags, pathFlag, ALLOW_NONFINITE_FLAG } from '../flags.js';
import { described, enumField, hidden, intField, numberField, optional, stringField } from '../../schema/field.js';
import { loadModelArg, bundledModel } from '../model_arg.js';
import { SDE_NAMES, type SdeName } from '../../sde/sde.js';
import { sdeFromConfig, isSdeConfig } from '../../sde/config.js';
import { DEFAULT_SNR, defaultSamplingEps } from '../../sde/pc_sampler.js';
import { DEFAULT_ODE_TOLERANCE } from '../../sde/ode_sampler.js';
import { PREDICTOR_NAMES, type PredictorName } from '../../sde/predictors.js';
import { CORRECTOR_NAMES, type CorrectorName } from '../../sde/correctors.js';
import { SDE_SAMPLERS, findMethod, type SdeSamplerName } from '../../sampling/registry.js';
import { sdeSample } from '../../sampling/sde_process.js';

export { SDE_SAMPLERS, type SdeSamplerName } from '../../sampling/registry.js';

/** A positive number flag (pc or ode only: absent unless given). */
/** A positive number flag up to `max` (its range in --help). */
const positive = (key: string, doc: string, defaultText: string, metavar = 'X', max = Infinity) => {
  const field = numberField(key, 1, 0, max, true);
  return described(optional(field, defaultText), `${doc.replace(/\.$/, '')}; ${field.allowed}.`, { metavar });
};
/** The largest corrector SNR (score_sde uses 0.075 to 0.17). */
const MAX_SNR = 10;

/** The flags of the score-SDE samplers (`diffuse sample` hands its argv here for them). */
export const SDE_ONLY_FLAGS = {
  sdeSampler: described(optional(enumField<SdeSamplerName>('sde_sampler', SDE_SAMPLERS, 'pc'), 'pc'), 'pc (predictor-corrector) or ode (probability-flow ODE, adaptive RK45).', { metavar: 'S' }),
  sde: described(optional(enumField<SdeName>('sde', SDE_NAMES, 'vp')), "Checked against the model's SDE (a DDPM model is vp).", { metavar: 'S' }),
  predictor: described(optional(enumField<PredictorName>('predictor', PREDICTOR_NAMES, 'reverse_diffusion'), 'reverse_diffusion'), `pc: ${PREDICTOR_NAMES.join(' | ')}.`, { metavar: 'P' }),
  corrector: described(optional(enumField<CorrectorName>('corrector', CORRECTOR_NAMES, 'langevin'), 'langevin'), `pc: ${CORRECTOR_NAMES.join(' | ')} (ald = annealed Langevin).`, { metavar: 'C' }),
  snr: positive('snr', 'pc: corrector signal-to-noise ratio.', String(DEFAULT_SNR), 'R', MAX_SNR),
  correctorSteps: described(optional(intField('corrector_steps', 1, 1), '1'), 'pc: corrector steps per time step.', { metavar: 'K' }),
  steps: described(optional(intField('steps', 1, 1), "the SDE's N, 1000"), 'pc: time steps.', { metavar: 'K' }),
  rtol: positive('rtol', 'ode: RK45 relative tolerance; the NFE is printed.', String(DEFAULT_ODE_TOLERANCE), 'X', 1),
  atol: positive('atol', 'ode: RK45 absolute tolerance.', String(DEFAULT_ODE_TOLERANCE), 'X', 1),
  eps: positive('eps', 'Last time, below 1.', '1e-3 for VP/sub-VP, 1e-5 for VE', 'E'),
} as const;

/** With the output flags `diffuse sample` shares (its --help lists those). */
const FLAGS = {
  ...SDE_ONLY_FLAGS,
  model: hidden(MODEL_FLAG),
  scheduler: hidden(optional(stringField('scheduler', ''))),
  n: hidden(countFlag('n', 16, 1, 'Number of images.')),
  class: hidden(CLASS_FLAG),
  seed: hidden(SEED_FLAG),
  batch: hidden(countFlag('batch', 64, 1, 'Images per forward pass.')),
  out: hidden(pathFlag('out', 'The PNG grid to write (required).')),
  nrow: hidden(optional(intField('nrow', 1, 1))),
  maxMemory: MAX_MEMORY_FLAG,
  allowNonfinite: hidden(ALLOW_NONFINITE_FLAG),
} as const;

export const sdeSampleHelp = `
Score-SDE sampling (Song et al. 2021; the model's SDE from its scheduler_config.json, a DDPM
model with the linear schedule being the VP SDE):
${formatFlagHelp(SDE_ONLY_FLAGS)}`;

/**
 * Whether `diffuse sample` should hand its parsed flags to the SDE samplers: --sde-sampler, or a
 * --scheduler the registry lists as an SDE sampler, or no --scheduler and a model trained as an SDE.
 */
export function routesToSde(values: { scheduler?: string | undefined; 'sde-sampler'?: string | undefined; model?: string | undefined }): boolean {
  if (values['sde-sampler'] !== undefined) return true;
  if (values.scheduler !== undefined) return findMethod(values.scheduler)?.kind === 'sde';
  // An SDE-trained model samples with PC by default.
  try {
    const { schedulerDir } = resolveModelDir(values.model ?? bundledModel());
    return schedulerDir !== null && existsSync(join(schedulerDir, 'scheduler_config.json')) && isSdeConfig(readSchedulerConfig(schedulerDir));
  } catch {
    return false;
  }
}

/** Whether `diffuse sample` should hand these arguments to the SDE samplers (parsed, so --model=DIR works). */
export function wantsSdeSampler(argv: readonly string[]): boolean {
  const { values } = parseArgs({ args: [...argv], options: { model: { type: 'string' }, scheduler: { type: 'string' }, 'sde-sampler': { type: 'string' } }, strict: false, allowPositionals: true });
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return routesToSde({ model: str(values.model), scheduler: str(values.scheduler), 'sde-sampler': str(values['sde-sampler']) });
}

export async function runSdeSample(argv: string[]): Promise<void> {
  const { values: v } = parseCommandFlags('sample', FLAGS, argv);
  applyMaxMemory(v.maxMemory);
  const out = v.out;
  if (out === undefined || out === '') throw new UsageError('--out FILE (the PNG grid to write) is required');
  const byName = v.scheduler;
  if (byName !== undefined && !(SDE_SAMPLERS as readonly string[]).includes(byName)) throw new UsageError(`--scheduler must be one of ${SDE_SAMPLERS.join(', ')} for a score-SDE model, found '${byName}'`);
  if (v.sdeSampler !== undefined && byName !== undefined && v.sdeSampler !== byName) throw new UsageError(`--sde-sampler ${v.sdeSampler} and --scheduler ${byName} disagree; give one of them`);
  const kind: SdeSamplerName = v.sdeSampler ?? (byName as SdeSamplerName | undefined) ?? 'pc';
  const { predictor, corrector, snr, correctorSteps, steps, rtol, atol, eps } = v;
  const sdeFlag = v.sde;
  if (eps !== undefined && eps >= 1) throw new UsageError(`--eps must be below 1 (the SDE runs on [0, 1]), found ${eps}`);
  const pcOnly = { predictor, corrector, snr, 'corrector-steps': correctorSteps, steps };
  const odeOnly = { rtol, atol };
  for (const [name, val] of Object.entries(kind === 'pc' ? odeOnly : pcOnly)) {
    if (val !== undefined) throw new UsageError(`--${name} applies to --sde-sampler ${kind === 'pc' ? 'ode' : 'pc'} only`);
  }
  const { n, seed, batch, nrow } = v;
  const classList = v.class === undefined ? undefined : resolveClassRefs(v.class, v.model);
  if (classList !== undefined && classList.length !== 1 && classList.length !== n) throw new UsageError(`--class takes one class or ${n} (one per image), found ${classList.length}`);

  const { model, schedulerConfig } = loadModelArg(v.model, { allowNonfinite: v.allowNonfinite });
  const sde = sdeFromConfig(schedulerConfig, sdeFlag, 'the model\'s scheduler_config.json');
  if (kind === 'pc' && predictor === 'ancestral' && sde.name === 'subvp') throw new UsageError('--predictor ancestral needs a VP or VE SDE (sub-VP has no discrete ancestor); use reverse_diffusion or euler_maruyama');
  const cfg = model.config;
  const classCount = cfg.numClassEmbeds !== null && cfg.classEmbedType === null ? cfg.numClassEmbeds - 1 : 0;
  if (classList !== undefined && classCount === 0) throw new UsageError('--class: this model is unconditional (no class embedding)');
  for (const c of classList ?? []) if (c >= classCount) throw new UsageError(`--class ${c} is out of range: the model has ${classCount} classes (0..${classCount - 1})`);
  const labels = classCount === 0 ? null : Int32Array.from({ length: n }, (_, i) => (classList === undefined ? i % classCount : classList.length === 1 ? classList[0]! : classList[i]!));
  const ss = cfg.sampleSize ?? 32;
  const [h, w]: [number, number] = typeof ss === 'number' ? [ss, ss] : [ss[0]!, ss[1]!];
  model.eval();

  const pcSteps = steps ?? sde.N;
  const bar = new ProgressBar({ total: kind === 'pc' ? Math.ceil(n / batch) * pcSteps : Math.ceil(n / batch) * 1000, label: `sample ${sde.name} ${kind}`, unit: kind === 'pc' ? 'step' : '‰t' });
  const start = performance.now();
  const { images, nfe: nfes } = sdeSample({
    method: kind, sde, model, n, size: [h, w, cfg.inChannels], classLabels: labels, batchSize: batch, generator: new Generator(seed),
    pc: { steps: pcSteps, ...(predictor === undefined ? {} : { predictor }), ...(corrector === undefined ? {} : { corrector }), ...(snr === undefined ? {} : { snr }), ...(correctorSteps === undefined ? {} : { correctorSteps }), ...(eps === undefined ? {} : { eps }) },
    ode: { ...(rtol === undefined ? {} : { rtol }), ...(atol === undefined ? {} : { atol }), ...(eps === undefined ? {} : { eps }) },
    onProgress: ({ step, nfe }) => bar.update(step, nfe === undefined ? undefined : { nfe }),
  });
  if (process.stderr.isTTY) bar.done();
  // Clip to the image range for writing (the SDE's output can overshoot slightly).
  await writePngGrid(out, clamp(images, -1, 1), nrow === undefined ? {} : { nrow });
  const secs = (performance.now() - start) / 1000;
  const how = kind === 'pc'
    ? `${predictor ?? 'reverse_diffusion'} + ${corrector ?? 'langevin'}, ${pcSteps} steps, eps ${eps ?? defaultSamplingEps(sde)}`
    : `RK45 rtol ${rtol ?? 1e-5} atol ${atol ?? 1e-5}, eps ${eps ?? defaultSamplingEps(sde)}`;
  process.stdout.write(`wrote ${out} (${n} images, ${h}x${w}x${cfg.inChannels}; ${sde.name} SDE, ${kind}: ${how}; NFE per batch ${nfes.join(', ')}; ${secs.toFixed(1)} s)\n`);
}
