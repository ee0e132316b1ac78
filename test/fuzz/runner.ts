/**
 * The fuzz loop: prepares each target's seed files once, then makes cases round-robin over the
 * targets (case i of target T from the generator seeded '<seed>:<T>:<i>', so any case can be made
 * again alone), runs them in the worker pool, and keeps every failing case's files with a
 * case.json (note, spec, violations, the command that makes it again) under
 * OUT/failures/<target>/. Failures are grouped by a signature (target, kind, the message with
 * numbers and paths blurred) so a report lists distinct problems, not repeats.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from './pool.js';
import { Rng } from './rng.js';
import type { FailureKind, RunContext, Target, Violation } from './target.js';

export interface FuzzOptions {
  targets: readonly Target[];
  seed: string;
  /** Cases per target (a bounded run), or... */
  count?: number;
  /** ...a wall-clock budget for the whole run (cases spread round-robin). */
  minutes?: number;
  /** Run only this case index of each target (reproduction). */
  caseIndex?: number;
  /** Where the corpus, the cases and the failures go. */
  outDir: string;
  workers: number;
  /** Bound on a worker's resident memory (bytes). */
  memoryLimit: number;
  /** Slow inputs too (decompression bombs). */
  heavy: boolean;
  /** Called after each case (progress). */
  onCase?: (target: string, index: number, violations: readonly Violation[]) => void;
}

/** One distinct failure: its signature, how often it was seen, the first case that showed it. */
export interface DistinctFailure {
  target: string;
  kind: FailureKind;
  signature: string;
  count: number;
  example: { index: number; note: string; detail: string; folder: string };
}

export interface TargetStats {
  cases: number;
  failedCases: number;
  byKind: Partial<Record<FailureKind, number>>;
  maxPeakRss: number;
  /** The case that reached maxPeakRss. */
  maxPeakCase: number;
  ms: number;
}

export interface FuzzSummary {
  seed: string;
  seconds: number;
  perTarget: Record<string, TargetStats>;
  distinct: DistinctFailure[];
  workerStarts: number;
}

/** The message of a violation with what varies between cases blurred (paths, numbers, quoted values). */
export function signatureOf(target: string, v: Violation): string {
  // A detail may end in ' — ' and an example (which request, which file): not part of the signature.
  const blurred = v.detail
    .split(' — ')[0]!
    .replace(/\[at .*$/, '')
    .replace(/(\/[^\s'"`:,()]+)+/g, '<path>')
    .replace(/'[^']*'|"[^"]*"/g, '<q>')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N')
    .slice(0, 140);
  return `${target}|${v.kind}|${blurred}`;
}

const hash = (s: string): string => createHash('sha1').update(s).digest('hex').slice(0, 8);

/**
 * Runs the fuzzer; resolves with the summary (failures are results, not rejections).
 * @example const s = await runFuzz({ targets: TARGETS, seed: '1', count: 20, outDir: 'fuzz-out', workers: 2, memoryLimit: 1.5 * 2 ** 30, heavy: false });
 */
export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const t0 = performance.now();
  const contexts = new Map<string, RunContext>();
  for (const t of o.targets) {
    const ctx: RunContext = { corpusDir: join(o.outDir, 'corpus', t.name), heavy: o.heavy };
    mkdirSync(ctx.corpusDir, { recursive: true });
    await t.prepare(ctx);
    contexts.set(t.name, ctx);
  }
  const pool = new Pool({ size: o.workers, memoryLimit: o.memoryLimit });
  const perTarget: Record<string, TargetStats> = Object.fromEntries(o.targets.map((t) => [t.name, { cases: 0, failedCases: 0, byKind: {}, maxPeakRss: 0, maxPeakCase: -1, ms: 0 }]));
  const distinct = new Map<string, DistinctFailure>();
  const deadline = o.minutes === undefined ? Infinity : Date.now() + o.minutes * 60_000;
  const next = new Map(o.targets.map((t) => [t.name, o.caseIndex ?? 0]));
  let turn = 0;

  /** The next (target, index) to run, or null when the run is over. */
  const take = (): { t: Target; i: number } | null => {
    if (Date.now() >= deadline) return null;
    for (let k = 0; k < o.targets.length; k++) {
      const t = o.targets[(turn + k) % o.targets.length]!;
      const i = next.get(t.name)!;
      const end = o.caseIndex !== undefined ? o.caseIndex + 1 : o.count ?? Infinity;
      if (i < end) {
        next.set(t.name, i + 1);
        turn = (turn + k + 1) % o.targets.length;
        return { t, i };
      }
    }
    return null;
  };

  const slot = async (): Promise<void> => {
    for (let job = take(); job !== null; job = take()) {
      const { t, i } = job;
      const caseDir = join(o.outDir, 'cases', `${t.name}-${i}`);
      rmSync(caseDir, { recursive: true, force: true });
      mkdirSync(caseDir, { recursive: true });
      const rng = new Rng(`${o.seed}:${t.name}:${i}`);
      let made;
      try {
        made = await t.make(rng, caseDir, contexts.get(t.name)!, i);
      } catch (e) {
        made = null;
        record(t, i, caseDir, '(make failed)', null, [{ kind: 'harness', detail: `make() threw: ${(e as Error).stack ?? String(e)}` }], 0, 0);
      }
      if (made !== null) {
        const r = await pool.run(t.name, made.spec, caseDir, t.timeoutMs);
        record(t, i, caseDir, made.note, made.spec, r.violations, r.peakRss, r.ms);
      }
    }
  };

  const record = (t: Target, i: number, caseDir: string, note: string, spec: unknown, violations: Violation[], peakRss: number, ms: number): void => {
    const s = perTarget[t.name]!;
    s.cases++;
    s.ms += ms;
    if (peakRss > s.maxPeakRss) {
      s.maxPeakRss = peakRss;
      s.maxPeakCase = i;
    }
    o.onCase?.(t.name, i, violations);
    if (violations.length === 0) {
      rmSync(caseDir, { recursive: true, force: true });
      return;
    }
    s.failedCases++;
    const fresh: DistinctFailure[] = [];
    for (const v of violations) {
      s.byKind[v.kind] = (s.byKind[v.kind] ?? 0) + 1;
      const sig = signatureOf(t.name, v);
      const d = distinct.get(sig);
      if (d !== undefined) d.count++;
      else {
        const nd: DistinctFailure = { target: t.name, kind: v.kind, signature: sig, count: 1, example: { index: i, note, detail: v.detail, folder: '' } };
        distinct.set(sig, nd);
        fresh.push(nd);
      }
    }
    if (fresh.length === 0) {
      rmSync(caseDir, { recursive: true, force: true });
      return;
    }
    // The first case of a new signature is kept (one folder for all the signatures it showed first).
    const folder = join(o.outDir, 'failures', t.name, `${fresh[0]!.kind}-${hash(fresh[0]!.signature)}`);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(join(folder, '..'), { recursive: true });
    renameSync(caseDir, folder);
    for (const d of fresh) d.example.folder = folder;
    writeFileSync(
      join(folder, 'case.json'),
      `${JSON.stringify({ target: t.name, seed: o.seed, index: i, note, spec, violations, reproduce: `npm run fuzz -- --target ${t.name} --seed ${o.seed} --case ${i}`, caseFolder: caseDir }, null, 2)}\n`,
    );
  };

  try {
    await Promise.all(Array.from({ length: o.workers }, slot));
  } finally {
    pool.close();
  }
  return { seed: o.seed, seconds: (performance.now() - t0) / 1000, perTarget, distinct: [...distinct.values()], workerStarts: pool.starts };
}

/** The summary as a plain-text table (cases per target, failures by kind) and the distinct failures. */
export function formatSummary(s: FuzzSummary): string {
  const kinds = [...new Set(Object.values(s.perTarget).flatMap((t) => Object.keys(t.byKind)))].sort();
  const rows = [['target', 'cases', 'failed', 's/case', 'peak RSS (case)', ...kinds]];
  for (const [name, t] of Object.entries(s.perTarget)) {
    const perCase = t.cases === 0 ? 0 : t.ms / t.cases / 1000;
    rows.push([name, String(t.cases), String(t.failedCases), perCase.toFixed(2), `${Math.round(t.maxPeakRss / 2 ** 20)} MB (#${t.maxPeakCase})`, ...kinds.map((k) => String(t.byKind[k as FailureKind] ?? 0))]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ')).join('\n');
  const lines = [`fuzz: seed ${s.seed}, ${s.seconds.toFixed(0)} s, ${s.workerStarts} worker start(s)`, table, '', `${s.distinct.length} distinct failure(s):`];
  for (const d of s.distinct) lines.push(`- [${d.target}] ${d.kind} x${d.count}: ${d.example.detail.slice(0, 400)}\n    case ${d.example.index}: ${d.example.note.slice(0, 200)}\n    saved: ${d.example.folder}`);
  return lines.join('\n');
}
