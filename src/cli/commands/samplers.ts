/**
 * `diffuse samplers`: lists every sampling method the registry holds (sampling/registry.ts), one
 * line each: the k-diffusion-style samplers, the diffusers-compatible schedulers (with their short
 * names) and the score-SDE samplers, with convergence order, model calls per step, whether it
 * draws noise, and the paper. A thin client of the registry: it restates nothing.
 */
import { boolField, described } from '../../schema/field.js';
import { formatFlagHelp, parseCommandFlags } from '../flags.js';
import { samplingMethods, type MethodKind } from '../../sampling/registry.js';

export const summary = 'List every sampler, scheduler and SDE sampler: order, model calls per step, stochastic, paper.';

const FLAGS = { json: described(boolField('json', false), 'Print JSON instead of a table.') } as const;

export const help = `diffuse samplers: list the samplers and schedulers that 'diffuse sample --scheduler NAME' takes

Usage: diffuse samplers [--json]

Samplers (k-diffusion names) are pure functions over a sigma schedule (--sigmas karras by default);
schedulers are diffusers' step-wise classes, by class name or short name, built from the model's
scheduler_config.json; the SDE samplers (pc, ode) run on a score-SDE model. Columns: convergence order (weak order for the stochastic ones), model
calls per step, whether it draws noise, the paper.

Options:
${formatFlagHelp(FLAGS)}`;

/** One row of the listing. */
export interface AlgorithmRow {
  kind: MethodKind;
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

/** Every sampler, then every registered scheduler, then the SDE samplers. */
export function algorithmRows(): AlgorithmRow[] {
  return samplingMethods().map((m) => ({ kind: m.kind, name: m.name, aliases: [...m.aliases], order: m.order, modelCallsPerStep: m.modelCallsPerStep, stochastic: m.stochastic, paper: m.paper }));
}

const SECTIONS: Readonly<Record<MethodKind, string>> = {
  sampler: 'Samplers (k-diffusion names; --sigmas karras|exponential|polyexponential|discrete):',
  scheduler: '\nSchedulers (diffusers classes, by class name or short name):',
  sde: '\nSDE samplers (score-SDE models; their flags: diffuse sample --help):',
};

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
  for (const kind of ['sampler', 'scheduler', 'sde'] as const) {
    out.push(SECTIONS[kind]);
    out.push(`  ${line(head)}`);
    for (const r of rows.filter((x) => x.kind === kind)) out.push(`  ${line(cells(r))}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
