/**
 * A fuzz worker process (forked by pool.ts): runs one case at a time for the parent and
 * answers with the violations seen and the case's peak RSS (VmHWM, reset before each case
 * through /proc/self/clear_refs). An uncaught exception or unhandled rejection is reported as a
 * crash and ends the process: the parent starts a fresh one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { targetNamed } from './targets/index.js';
import { describeError } from './invariant.js';
import type { Violation } from './target.js';
import { setMaxMemory } from '../../src/nn/memory_budget.js';

// As `--max-memory` would: the pool sets it below the case's RSS bound.
const budget = Number(process.env['DIFFUSE_FUZZ_MEMORY_BUDGET']);
if (budget > 0) setMaxMemory(budget);

/** A message from the parent. */
export interface RunMessage {
  type: 'run';
  id: number;
  target: string;
  spec: unknown;
  caseDir: string;
}

/** A message to the parent. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'done'; id: number; violations: Violation[]; peakRss: number | null; ms: number }
  | { type: 'uncaught'; detail: string };

/** Resets the peak-RSS counter; false where /proc does not allow it. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** This process's peak RSS in bytes since the last reset (VmHWM), or null. */
function peakRss(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

const send = (m: ChildMessage): void => {
  process.send?.(m);
};

function onUncaught(e: unknown): void {
  send({ type: 'uncaught', detail: describeError(e) });
  // Let the message flush, then die: the process state is unknown now.
  setTimeout(() => process.exit(70), 100);
}
process.on('uncaughtException', onUncaught);
process.on('unhandledRejection', onUncaught);

process.on('message', (raw: RunMessage) => {
  if (raw.type !== 'run') return;
  void (async () => {
    const canReset = resetPeak();
    const t0 = performance.now();
    let violations: Violation[];
    try {
      violations = await targetNamed(raw.target).run(raw.spec, raw.caseDir);
    } catch (e) {
      violations = [{ kind: 'harness', detail: `the target's run() threw: ${describeError(e)}` }];
    }
    send({ type: 'done', id: raw.id, violations, peakRss: canReset ? peakRss() : null, ms: performance.now() - t0 });
  })();
});

process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
