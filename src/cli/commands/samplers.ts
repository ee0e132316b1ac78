/**
 * `diffuse samplers`: lists every reverse-process algorithm `diffuse sample --scheduler NAME` and
 * `generate({ scheduler })` accept, one line each: the k-diffusion-style samplers (SAMPLERS) and
 * the diffusers-compatible schedulers (SCHEDULER_CLASSES), with convergence order, model calls per
 * step, whether it draws noise, and the paper. A thin client of the registries.
 */
import { boolField, described } from '../../schema/field.js';
import { formatFlagHelp, parseCommandFlags } from '../flags.js';
import { SAMPLERS } from '../../samplers/index.js';
import { SCHEDULER_CLASSES } from '../../schedulers/index.js';
import { SCHEDULER_ALIASES } from '../../pipelines/generate.js';

export const summary = 'List every sampler and scheduler: order, model calls per step, stochastic, paper.';

const FLAGS = { json: described(boolField('json', false), 'Print JSON instead of a table.') } as const;

export const help = `diffuse samplers: list the samplers and schedulers that 'diffuse sample --scheduler NAME' takes

Usage: diffuse samplers [--json]

Samplers (k-diffusion names) are pure functions over a sigma schedule (--sigmas karras by default);
schedulers are diffusers' step-wise classes, by class name or short name, built from the model's
scheduler_config.json. Columns: convergence order (weak order for the stochastic ones), model
calls per step, whether it draws noise, the paper.

Options:
${formatFlagHelp(FLAGS)}`;

/** One row of the listing. */
export interface AlgorithmRow {
  kind: 'sampler' | 'scheduler';
  /** The name to pass to --scheduler (a scheduler's class name). */
  name: string;
  /** Other accepted names (a scheduler's short names). */
  aliases: string[];
  /** Convergence order, e.g. "2" or "1-3" (configurable). */
  order: string;
  /** Model calls per step ("adaptive" for dpm_adaptive). */
  modelCallsPerStep: string;
  stochastic: string;
  paper: string;
}

/** What the listing says about each diffusers scheduler (diffusers 0.25.1 semantics). */
const SCHEDULER_INFO: Readonly<Record<string, Omit<AlgorithmRow, 'kind' | 'name' | 'aliases'>>> = {
  DDPMScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'yes', paper: 'Ho et al. 2020, Denoising Diffusion Probabilistic Models' },
  DDIMScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'with eta > 0', paper: 'Song et al. 2021, Denoising Diffusion Implicit Models' },
  PNDMScheduler: { order: '4', modelCallsPerStep: '1 (4 in PRK warm-up)', stochastic: 'no', paper: 'Liu et al. 2022, Pseudo Numerical Methods for Diffusion Models on Manifolds' },
  LMSDiscreteScheduler: { order: '1-4', modelCallsPerStep: '1', stochastic: 'no', paper: 'Karras et al. 2022 (k-diffusion linear multistep)' },
  EulerDiscreteScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'with s_churn > 0', paper: 'Karras et al. 2022, Elucidating the Design Space of Diffusion-Based Generative Models' },
  EulerAncestralDiscreteScheduler: { order: '1', modelCallsPerStep: '1', stochastic: 'yes', paper: 'Karras et al. 2022 / k-diffusion (ancestral Euler)' },
  HeunDiscreteScheduler: { order: '2', modelCallsPerStep: '2', stochastic: 'no', paper: 'Karras et al. 2022 (Heun, Alg. 1)' },
  KDPM2DiscreteScheduler: { order: '2', modelCallsPerStep: '2', stochastic: 'no', paper: 'Lu et al. 2022, DPM-Solver (DPM-Solver-2, k-diffusion form)' },
  KDPM2AncestralDiscreteScheduler: { order: '2', modelCallsPerStep: '2', stochastic: 'yes', paper: 'Lu et al. 2022, DPM-Solver (DPM-Solver-2 with ancestral noise)' },
  DPMSolverMultistepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'sde-dpmsolver(++) only', paper: 'Lu et al. 2022, DPM-Solver and DPM-Solver++' },
  DPMSolverSinglestepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'no', paper: 'Lu et al. 2022, DPM-Solver and DPM-Solver++ (singlestep)' },
  UniPCMultistepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'no', paper: 'Zhao et al. 2023, UniPC: A Unified Predictor-Corrector Framework' },
  DEISMultistepScheduler: { order: '1-3', modelCallsPerStep: '1', stochastic: 'no', paper: 'Zhang & Chen 2023, Fast Sampling of Diffusion Models with Exponential Integrator' },
};

/** Every sampler, then every registered scheduler. */
export function algorithmRows(): AlgorithmRow[] {
  const rows: AlgorithmRow[] = Object.values(SAMPLERS).map((s) => ({
    kind: 'sampler',
    name: s.name,
    aliases: [],
    order: String(s.order),
    modelCallsPerStep: s.modelCallsPerStep === 0 ? 'adaptive' : String(s.modelCallsPerStep),
    stochastic: s.stochastic ? 'yes' : 'no',
    paper: s.paper,
  }));
  for (const className of Object.keys(SCHEDULER_CLASSES)) {
    const aliases = Object.entries(SCHEDULER_ALIASES).filter(([, c]) => c === className).map(([a]) => a);
    const info = SCHEDULER_INFO[className] ?? { order: '?', modelCallsPerStep: '?', stochastic: '?', paper: '(not described yet)' };
    rows.push({ kind: 'scheduler', name: className, aliases, ...info });
  }
  return rows;
}

export function run(argv: string[]): void {
  const { values } = parseCommandFlags('samplers', FLAGS, argv);
  const rows = algorithmRows();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const head = ['name', 'order', 'calls/step', 'stochastic', 'paper'];
  const cells = (r: AlgorithmRow) => [r.aliases.length > 0 ? `${r.name} (${r.aliases.join(', ')})` : r.name, r.order, r.modelCallsPerStep, r.stochastic, r.paper];
  const width = head.map((h, k) => Math.max(h.length, ...rows.map((r) => cells(r)[k]!.length)));
  const line = (c: string[]) => c.map((v, k) => (k === c.length - 1 ? v : v.padEnd(width[k]!))).join('  ');
  const out: string[] = [];
  for (const kind of ['sampler', 'scheduler'] as const) {
    out.push(kind === 'sampler' ? 'Samplers (k-diffusion names; --sigmas karras|exponential|polyexponential|discrete):' : '\nSchedulers (diffusers classes, by class name or short name):');
    out.push(`  ${line(head)}`);
    for (const r of rows.filter((x) => x.kind === kind)) out.push(`  ${line(cells(r))}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
