/**
 * `npm run fuzz -- [--minutes M | --count N] [--target NAME]... [--seed S] [--case I]
 * [--workers W] [--memory-mb MB] [--out DIR] [--light]`: the release fuzz run. Prints a summary
 * table (cases per target, failures by kind) and the distinct failures; each failing input is
 * kept under OUT/failures/<target>/ with a case.json that says how to make it again. Exits 1
 * when anything failed.
 *
 *   npm run fuzz -- --minutes 60                  # before a release
 *   npm run fuzz -- --target http --seed 7 --case 31   # one saved case again
 */
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { TARGETS, targetNamed } from './targets/index.js';
import { runFuzz, formatSummary } from './runner.js';

const HELP = `npm run fuzz -- [options]

Options:
  --minutes M      run for M minutes in total (default 60 unless --count is given)
  --count N        N cases per target instead of a time budget
  --target NAME    only this target (repeatable); targets: ${TARGETS.map((t) => t.name).join(', ')}
  --seed S         seed of the run (default: the current time; printed)
  --case I         run case I only (with --seed, to make a saved failure again)
  --workers W      worker processes (default 2)
  --memory-mb MB   bound on a worker's resident memory (default 1536)
  --out DIR        corpus, cases and failures (default fuzz-out; emptied first)
  --light          no decompression bombs (faster)

Targets:
${TARGETS.map((t) => `  ${t.name.padEnd(14)} ${t.description}`).join('\n')}
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      count: { type: 'string' },
      target: { type: 'string', multiple: true },
      seed: { type: 'string' },
      case: { type: 'string' },
      workers: { type: 'string', default: '2' },
      'memory-mb': { type: 'string', default: '1536' },
      out: { type: 'string', default: 'fuzz-out' },
      light: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, found '${v}'`);
    return n;
  };
  const count = num('count', values.count);
  const caseIndex = values.case === undefined ? undefined : Number(values.case);
  if (caseIndex !== undefined && (!Number.isInteger(caseIndex) || caseIndex < 0)) throw new Error(`--case must be a case index (0, 1, ...), found '${values.case}'`);
  const minutes = num('minutes', values.minutes) ?? (count === undefined && caseIndex === undefined ? 60 : undefined);
  const seed = values.seed ?? String(Date.now());
  const targets = values.target === undefined ? TARGETS : values.target.map(targetNamed);
  rmSync(values.out, { recursive: true, force: true });
  process.stderr.write(`fuzz: seed ${seed}, targets ${targets.map((t) => t.name).join(', ')}, ${minutes !== undefined ? `${minutes} min` : caseIndex !== undefined ? `case ${caseIndex}` : `${count} cases each`}\n`);
  let done = 0;
  const summary = await runFuzz({
    targets,
    seed,
    ...(count === undefined ? {} : { count }),
    ...(minutes === undefined ? {} : { minutes }),
    ...(caseIndex === undefined ? {} : { caseIndex }),
    outDir: values.out,
    workers: num('workers', values.workers)!,
    memoryLimit: num('memory-mb', values['memory-mb'])! * 2 ** 20,
    heavy: !values.light,
    onCase: (target, index, violations) => {
      done++;
      if (violations.length > 0) process.stderr.write(`  ${target} #${index}: ${violations.map((v) => v.kind).join(', ')}\n`);
      else if (done % 50 === 0) process.stderr.write(`  ${done} cases\n`);
    },
  });
  process.stdout.write(`${formatSummary(summary)}\n`);
  return summary.distinct.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
