/**
 * A pool of fuzz worker processes (child.ts). Each case runs in a worker under a wall-clock
 * limit while the pool polls the worker's resident memory (/proc/PID/status VmRSS) every few
 * milliseconds: past the memory bound or the time limit the worker is killed (SIGKILL) and the
 * case reported as 'memory' or 'timeout'; a worker that dies on its own is a 'crash'. A fresh
 * worker replaces a dead one, so a bomb is detected and never takes the harness down.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, RunMessage } from './child.js';
import type { Violation } from './target.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
/** How often resident memory is sampled. */
const POLL_MS = 25;
/** Time a fresh worker gets to import the library and the addon. */
const START_TIMEOUT_MS = 120_000;

/** What one case did. */
export interface CaseResult {
  violations: Violation[];
  /** Peak RSS of the worker during the case (bytes), or the largest sample seen. */
  peakRss: number;
  ms: number;
}

export interface PoolOptions {
  size: number;
  /** Bound on a worker's resident memory (bytes). */
  memoryLimit: number;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

const mb = (b: number): string => `${Math.round(b / 2 ** 20)} MB`;

class Worker {
  proc: ChildProcess | null = null;
  ready: Promise<void> | null = null;
  stderr = '';

  start(memoryLimit: number): Promise<void> {
    const heapMb = Math.max(256, Math.floor(memoryLimit / 2 ** 20));
    const proc = fork(CHILD, [], {
      execArgv: [`--max-old-space-size=${heapMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // The library's memory budget (--max-memory) at half the RSS bound: what it lets through must fit under the bound.
      env: { ...process.env, DIFFUSE_THREADS: '1', OMP_NUM_THREADS: '1', UV_THREADPOOL_SIZE: '2', DIFFUSE_FUZZ_MEMORY_BUDGET: String(Math.floor(memoryLimit / 2)) },
    });
    this.proc = proc;
    this.stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-4000);
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fuzz worker did not start in ${START_TIMEOUT_MS / 1000} s: ${this.stderr}`)), START_TIMEOUT_MS);
      proc.once('message', (m: ChildMessage) => {
        clearTimeout(timer);
        if (m.type === 'ready') resolve();
        else reject(new Error(`fuzz worker sent ${JSON.stringify(m)} before ready`));
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`fuzz worker exited while starting (code ${code}, signal ${signal}): ${this.stderr}`));
      });
    });
    return this.ready;
  }

  kill(): void {
    if (this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    this.proc = null;
    this.ready = null;
  }
}

/** A fixed number of worker processes running cases one at a time each. */
export class Pool {
  readonly #options: PoolOptions;
  readonly #idle: Worker[] = [];
  readonly #waiting: ((w: Worker) => void)[] = [];
  #nextId = 0;
  /** Workers started (the first ones and every replacement). */
  starts = 0;

  constructor(options: PoolOptions) {
    this.#options = options;
    for (let i = 0; i < options.size; i++) this.#idle.push(new Worker());
  }

  async #acquire(): Promise<Worker> {
    const w = this.#idle.pop();
    if (w !== undefined) return w;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(w: Worker): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(w);
    else this.#idle.push(w);
  }

  /** Runs one case in a worker; never rejects for what the case does. */
  async run(target: string, spec: unknown, caseDir: string, timeoutMs: number): Promise<CaseResult> {
    const w = await this.#acquire();
    try {
      if (w.proc === null) {
        this.starts++;
        await w.start(this.#options.memoryLimit);
      }
      return await this.#runOn(w, { type: 'run', id: this.#nextId++, target, spec, caseDir }, timeoutMs);
    } finally {
      this.#release(w);
    }
  }

  #runOn(w: Worker, msg: RunMessage, timeoutMs: number): Promise<CaseResult> {
    const proc = w.proc!;
    const limit = this.#options.memoryLimit;
    const t0 = performance.now();
    return new Promise<CaseResult>((resolve) => {
      let maxSeen = 0;
      let uncaught: string | null = null;
      let settled = false;
      const finish = (r: CaseResult, kill: boolean): void => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        clearTimeout(timer);
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        if (kill) w.kill();
        resolve(r);
      };
      const elapsed = (): number => performance.now() - t0;
      const poll = setInterval(() => {
        const rss = rssOf(proc.pid!);
        maxSeen = Math.max(maxSeen, rss);
        if (rss > limit) finish({ violations: [{ kind: 'memory', detail: `resident memory reached ${mb(rss)} (bound ${mb(limit)}) after ${(elapsed() / 1000).toFixed(1)} s` }], peakRss: rss, ms: elapsed() }, true);
      }, POLL_MS);
      const timer = setTimeout(
        () => finish({ violations: [{ kind: 'timeout', detail: `no answer in ${timeoutMs / 1000} s (resident memory ${mb(maxSeen)})` }], peakRss: maxSeen, ms: elapsed() }, true),
        timeoutMs,
      );
      const onMessage = (m: ChildMessage): void => {
        if (m.type === 'uncaught') uncaught = m.detail;
        else if (m.type === 'done' && m.id === msg.id) {
          const peak = Math.max(m.peakRss ?? 0, maxSeen);
          const violations = [...m.violations];
          if (peak > limit) violations.push({ kind: 'memory', detail: `peak resident memory ${mb(peak)} (bound ${mb(limit)})` });
          // A worker left large by this case starts afresh, so the next case is not blamed for its memory.
          finish({ violations, peakRss: peak, ms: m.ms }, peak > limit / 2);
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        const tail = w.stderr.trim().split('\n').slice(-6).join(' | ');
        const oom = /heap out of memory|Allocation failed/i.test(w.stderr);
        const detail = uncaught !== null ? `uncaught in the process: ${uncaught}` : `the process died (code ${code}, signal ${signal}): ${tail}`;
        w.proc = null;
        finish({ violations: [{ kind: oom ? 'memory' : 'crash', detail }], peakRss: maxSeen, ms: elapsed() }, false);
      };
      proc.on('message', onMessage);
      proc.on('exit', onExit);
      proc.send(msg);
    });
  }

  /** Stops every worker. */
  close(): void {
    for (const w of this.#idle) w.kill();
  }
}
