/**
 * `diffuse sample --sde-sampler pc|ode`: sampling a score-SDE model (or a DDPM model read as the
 * VP SDE) with predictor-corrector sampling or the probability-flow ODE (src/sde). `diffuse
 * sample` hands its arguments here when --sde-sampler is given, or when the model was trained
 * with --sde and no --scheduler is given.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DiffuseError } from '../../tensor/errors.js';
import { Generator } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { writePngGrid } from '../../io/png.js';
import { readSchedulerConfig } from '../../io/checkpoint.js';
import { resolveModelDir } from '../../train/checkpoint.js';
import { ProgressBar } from '../progress.js';
import { intFlag, numFlag } from '../flags.js';
import { loadModelArg, bundledModel } from '../model_arg.js';
import { SDE_NAMES, type SdeName } from '../../sde/sde.js';
import { sdeFromConfig, isSdeConfig } from '../../sde/config.js';
import { scoreFromModel } from '../../sde/score.js';
import { pcSample, defaultSamplingEps } from '../../sde/pc_sampler.js';
import { odeSample } from '../../sde/ode_sampler.js';
import { PREDICTOR_NAMES, type PredictorName } from '../../sde/predictors.js';
import { CORRECTOR_NAMES, type CorrectorName } from '../../sde/correctors.js';

export const SDE_SAMPLERS = ['pc', 'ode'] as const;
export type SdeSamplerName = (typeof SDE_SAMPLERS)[number];

export const sdeSampleHelp = `
Score-SDE sampling (Song et al. 2021; the model's SDE from its scheduler_config.json, a DDPM
model with the linear schedule being the VP SDE):
  --sde-sampler S    pc (predictor-corrector) or ode (probability-flow ODE, adaptive RK45).
  --sde S            ${SDE_NAMES.join(' | ')}: checked against the model's SDE (a DDPM model is vp).
  --predictor P      ${PREDICTOR_NAMES.join(' | ')} (pc; default reverse_diffusion).
  --corrector C      ${CORRECTOR_NAMES.join(' | ')} (pc; default langevin; ald = annealed Langevin).
  --snr R            Corrector signal-to-noise ratio (default 0.16).
  --corrector-steps K  Corrector steps per time step (default 1).
  --steps K          pc: time steps (default the SDE's N, 1000).
  --rtol X, --atol X ode: RK45 tolerances (default 1e-5 each); the NFE is printed.
  --eps E            Last time (default 1e-3 for VP/sub-VP, 1e-5 for VE).
`;

/** Whether `diffuse sample` should hand these arguments to the SDE samplers. */
export function wantsSdeSampler(argv: readonly string[]): boolean {
  if (argv.some((a) => a === '--sde-sampler' || a.startsWith('--sde-sampler='))) return true;
  if (argv.some((a) => a === '--scheduler' || a.startsWith('--scheduler='))) return false;
  // An SDE-trained model samples with PC by default.
  const i = argv.indexOf('--model');
  const path = i >= 0 ? argv[i + 1] : undefined;
  try {
    const { schedulerDir } = resolveModelDir(path ?? bundledModel());
    return schedulerDir !== null && existsSync(join(schedulerDir, 'scheduler_config.json')) && isSdeConfig(readSchedulerConfig(schedulerDir));
  } catch {
    return false;
  }
}

/** A positive number flag (the CLI's one number rule, > 0). */
function posFlag(name: string, v: string | undefined): number | undefined {
  return numFlag(name, v, 0, Infinity, true);
}

function enumFlag<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new DiffuseError(`--${name} must be one of ${allowed.join(', ')}, found '${v}'`);
  return v as T;
}

export async function runSdeSample(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'sde-sampler': { type: 'string' },
      sde: { type: 'string' },
      predictor: { type: 'string' },
      corrector: { type: 'string' },
      snr: { type: 'string' },
      'corrector-steps': { type: 'string' },
      steps: { type: 'string' },
      rtol: { type: 'string' },
      atol: { type: 'string' },
      eps: { type: 'string' },
      n: { type: 'string' },
      class: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      out: { type: 'string' },
      nrow: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse sample --help'`);
  const out = v.out;
  if (out === undefined || out === '') throw new DiffuseError('--out FILE (the PNG grid to write) is required');
  const kind: SdeSamplerName = enumFlag('sde-sampler', v['sde-sampler'], SDE_SAMPLERS) ?? 'pc';
  const sdeFlag = enumFlag<SdeName>('sde', v.sde, SDE_NAMES);
  const predictor = enumFlag<PredictorName>('predictor', v.predictor, PREDICTOR_NAMES);
  const corrector = enumFlag<CorrectorName>('corrector', v.corrector, CORRECTOR_NAMES);
  const snr = posFlag('snr', v.snr);
  const correctorSteps = intFlag('corrector-steps', v['corrector-steps'], 1);
  const steps = intFlag('steps', v.steps, 1);
  const rtol = posFlag('rtol', v.rtol);
  const atol = posFlag('atol', v.atol);
  const eps = posFlag('eps', v.eps);
  if (eps !== undefined && eps >= 1) throw new DiffuseError(`--eps must be below 1 (the SDE runs on [0, 1]), found ${eps}`);
  const pcOnly = { predictor, corrector, snr, 'corrector-steps': correctorSteps, steps };
  const odeOnly = { rtol, atol };
  for (const [name, val] of Object.entries(kind === 'pc' ? odeOnly : pcOnly)) {
    if (val !== undefined) throw new DiffuseError(`--${name} applies to --sde-sampler ${kind === 'pc' ? 'ode' : 'pc'} only`);
  }
  const n = intFlag('n', v.n, 1) ?? 16;
  const seed = intFlag('seed', v.seed, 0) ?? 0;
  const batch = intFlag('batch', v.batch, 1) ?? 64;
  const nrow = intFlag('nrow', v.nrow, 1);
  const classList = v.class === undefined ? undefined : v.class.split(',').map((s) => intFlag('class', s, 0)!);
  if (classList !== undefined && classList.length !== 1 && classList.length !== n) throw new DiffuseError(`--class takes one class or ${n} (one per image), found ${classList.length}`);

  const { model, schedulerConfig } = loadModelArg(v.model);
  const sde = sdeFromConfig(schedulerConfig, sdeFlag, 'the model\'s scheduler_config.json');
  if (kind === 'pc' && predictor === 'ancestral' && sde.name === 'subvp') throw new DiffuseError('--predictor ancestral needs a VP or VE SDE (sub-VP has no discrete ancestor); use reverse_diffusion or euler_maruyama');
  const cfg = model.config;
  const classCount = cfg.numClassEmbeds !== null && cfg.classEmbedType === null ? cfg.numClassEmbeds - 1 : 0;
  if (classList !== undefined && classCount === 0) throw new DiffuseError('--class: this model is unconditional (no class embedding)');
  for (const c of classList ?? []) if (c >= classCount) throw new DiffuseError(`--class ${c} is out of range: the model has ${classCount} classes (0..${classCount - 1})`);
  const labels = classCount === 0 ? null : Int32Array.from({ length: n }, (_, i) => (classList === undefined ? i % classCount : classList.length === 1 ? classList[0]! : classList[i]!));
  const ss = cfg.sampleSize ?? 32;
  const [h, w]: [number, number] = typeof ss === 'number' ? [ss, ss] : [ss[0]!, ss[1]!];
  model.eval();

  const gen = new Generator(seed);
  const pcSteps = steps ?? sde.N;
  const chunks = Math.ceil(n / batch);
  const bar = new ProgressBar({ total: kind === 'pc' ? chunks * pcSteps : chunks * 1000, label: `sample ${sde.name} ${kind}`, unit: kind === 'pc' ? 'step' : '‰t' });
  const parts: Tensor[] = [];
  const nfes: number[] = [];
  const start = performance.now();
  for (let k = 0; k < chunks; k++) {
    const s0 = k * batch;
    const m = Math.min(batch, n - s0);
    const score = scoreFromModel(sde, model, { classLabels: labels === null ? null : labels.subarray(s0, s0 + m) });
    const xT = sde.priorSample([m, h, w, cfg.inChannels], gen);
    const r = kind === 'pc'
      ? pcSample(sde, score, xT, {
          generator: gen, steps: pcSteps,
          ...(predictor === undefined ? {} : { predictor }), ...(corrector === undefined ? {} : { corrector }),
          ...(snr === undefined ? {} : { snr }), ...(correctorSteps === undefined ? {} : { correctorSteps }), ...(eps === undefined ? {} : { eps }),
          callback: ({ i }) => bar.update(k * pcSteps + i + 1),
        })
      : odeSample(sde, score, xT, {
          ...(rtol === undefined ? {} : { rtol }), ...(atol === undefined ? {} : { atol }), ...(eps === undefined ? {} : { eps }),
          onStep: (t, nfe) => bar.update(k * 1000 + Math.round(1000 * (1 - t)), { nfe }),
        });
    nfes.push(r.nfe);
    parts.push(r.x);
  }
  if (process.stderr.isTTY) bar.done();
  const data = new Float32Array(n * h * w * cfg.inChannels);
  let off = 0;
  for (const p of parts) {
    // Clip to the image range for writing (the SDE's output can overshoot slightly).
    data.set(Float32Array.from(p.data, (x) => Math.min(1, Math.max(-1, x))), off);
    off += p.size;
  }
  await writePngGrid(out, new Tensor(data, [n, h, w, cfg.inChannels]), nrow === undefined ? {} : { nrow });
  const secs = (performance.now() - start) / 1000;
  const how = kind === 'pc'
    ? `${predictor ?? 'reverse_diffusion'} + ${corrector ?? 'langevin'}, ${pcSteps} steps, eps ${eps ?? defaultSamplingEps(sde)}`
    : `RK45 rtol ${rtol ?? 1e-5} atol ${atol ?? 1e-5}, eps ${eps ?? defaultSamplingEps(sde)}`;
  process.stdout.write(`wrote ${out} (${n} images, ${h}x${w}x${cfg.inChannels}; ${sde.name} SDE, ${kind}: ${how}; NFE per batch ${nfes.join(', ')}; ${secs.toFixed(1)} s)\n`);
}
