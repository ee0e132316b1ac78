/**
 * `diffuse samplers`: lists every sampling method the registry holds (sampling/registry.ts), one
 * line each: the k-diffusion-style samplers, the diffusers-compatible schedulers (with their short
 * names) and the score-SDE samplers, with convergence order, model calls per step, whether it
 * draws noise, and the paper. A thin client of the registry: it restates nothing.
 */
import { UsageError } from '../../tensor/errors.js';
import { boolField, described } from '../../schema/field.js';
import { didYouMean } from '../../schema/did_you_mean.js';
import { formatFlagHelp, parseCommandFlags } from '../flags.js';
import { wrapText } from '../../schema/flags.js';
import { samplingMethods, type MethodKind } from '../../sampling/registry.js';

export const summary = 'List every sampler, scheduler and SDE sampler: order, model calls per step, stochastic, paper.';

const FLAGS = {
  json: described(boolField('json', false), 'Print JSON instead of a table.'),
  wide: described(boolField('wide', false), 'One line per method, every column side by side (about 200 columns).'),
} as const;

/** The width the default table keeps to (a terminal of 100 columns). */
export const TABLE_WIDTH = 100;

export const help = `diffuse samplers: list the samplers and schedulers that 'diffuse sample --scheduler NAME' takes

Usage: diffuse samplers [--json | --wide]
       diffuse samplers NAME        (one method in full: kind, names, order, calls, noise, paper)

Samplers (k-diffusion names) are pure functions over a sigma schedule (--sigmas karras by default);
schedulers are diffusers' step-wise classes, by class name or short name, built from the model's
scheduler_config.json; the SDE samplers (pc, ode) run on a score-SDE model. Columns: convergence
order (weak order for the stochastic ones), model calls per step, whether it draws noise; under
each method its other names and the paper. The table fits ${TABLE_WIDTH} columns; --wide puts
every column on one line.

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

const KINDS = ['sampler', 'scheduler', 'sde'] as const;
const HEAD = ['name', 'order', 'calls/step', 'stochastic'];
const INDENT = '      ';


/** Pads the cells to `width` and joins them (the last cell unpadded). */
function tableLine(cells: readonly string[], width: readonly number[]): string {
  return `  ${cells.map((v, k) => (k === cells.length - 1 ? v : v.padEnd(width[k]!))).join('  ')}`;
}

/**
 * The table within TABLE_WIDTH columns: name, order, calls/step and stochastic on the method's
 * line; its other names and the paper on the lines under it, wrapped.
 */
export function formatTable(rows: readonly AlgorithmRow[]): string {
  const cells = (r: AlgorithmRow) => [r.name, r.order, r.modelCallsPerStep, r.stochastic];
  const width = HEAD.map((h, k) => Math.max(h.length, ...rows.map((r) => cells(r)[k]!.length)));
  const out: string[] = [];
  for (const kind of KINDS) {
    out.push(SECTIONS[kind]);
    out.push(tableLine(HEAD, width));
    for (const r of rows.filter((x) => x.kind === kind)) {
      out.push(tableLine(cells(r), width));
      const detail = `${r.aliases.length > 0 ? `also ${r.aliases.join(', ')}; ` : ''}${r.paper}`;
      for (const l of wrapText(detail, TABLE_WIDTH - INDENT.length)) out.push(`${INDENT}${l}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The table as it was before the 100-column one: one line per method, every column side by side. */
export function formatWideTable(rows: readonly AlgorithmRow[]): string {
  const head = [...HEAD, 'paper'];
  const cells = (r: AlgorithmRow) => [r.aliases.length > 0 ? `${r.name} (${r.aliases.join(', ')})` : r.name, r.order, r.modelCallsPerStep, r.stochastic, r.paper];
  const width = head.map((h, k) => Math.max(h.length, ...rows.map((r) => cells(r)[k]!.length)));
  const out: string[] = [];
  for (const kind of KINDS) {
    out.push(SECTIONS[kind]);
    out.push(tableLine(head, width));
    for (const r of rows.filter((x) => x.kind === kind)) out.push(tableLine(cells(r), width));
  }
  return `${out.join('\n')}\n`;
}

/** One method in full (`diffuse samplers NAME`); an unknown name is a usage error with the closest. */
export function formatDetail(rows: readonly AlgorithmRow[], name: string): string {
  const r = rows.find((x) => x.name === name || x.aliases.includes(name));
  if (r === undefined) {
    const names = rows.flatMap((x) => [x.name, ...x.aliases]);
    throw new UsageError(`unknown sampler '${name}'${didYouMean(name, names)}; 'diffuse samplers' lists them all`);
  }
  const kind = { sampler: 'sampler (k-diffusion; takes --sigmas)', scheduler: 'scheduler (diffusers class)', sde: 'score-SDE sampler' }[r.kind];
  const lines: [string, string][] = [['name', r.name], ['also', r.aliases.join(', ') || '-'], ['kind', kind], ['order', r.order], ['calls/step', r.modelCallsPerStep], ['stochastic', r.stochastic], ['paper', r.paper]];
  return lines.map(([k, v]) => `${k.padEnd(12)}${wrapText(v, TABLE_WIDTH - 12).join(`\n${' '.repeat(12)}`)}\n`).join('');
}

export function run(argv: string[]): void {
  const { values, positionals } = parseCommandFlags('samplers', FLAGS, argv, true);
  if (positionals.length > 1) throw new UsageError(`takes at most one NAME, found ${positionals.length}: ${positionals.join(' ')}`);
  const rows = algorithmRows();
  const one = positionals[0];
  if (one !== undefined) {
    const r = formatDetail(rows, one);
    process.stdout.write(values.json ? `${JSON.stringify(rows.find((x) => x.name === one || x.aliases.includes(one)), null, 2)}\n` : r);
    return;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  process.stdout.write(values.wide ? formatWideTable(rows) : formatTable(rows));
}
