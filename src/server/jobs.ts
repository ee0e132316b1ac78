/**
 * Jobs as the server tracks them: explicit states (queued, running, done, failed, cancelled),
 * progress with the latest preview, the result, and listeners for the Server-Sent Events stream.
 * Finished jobs are kept for their results up to a cap, oldest finished dropped first.
 * A failure's message is what clients see: file paths in it are scrubbed, and a bug's message
 * (with its stack) goes to the server's log while the client gets a short reference to it.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { encodePng } from '../io/png.js';
import { base64ToF32, FINAL_STATES, type JobKind, type JobResult, type JobState, type Progress, type WireImage } from './job_types.js';
import type { RawProgress, RawResult } from './compute.js';

/** An event on a job's stream. */
export type JobEvent =
  | { type: 'state'; state: JobState; error?: string }
  | { type: 'progress'; progress: Progress };

/** A job and what is known of it. */
export interface Job {
  id: string;
  kind: JobKind;
  state: JobState;
  /** The request's parameters, images left out. */
  summary: Record<string, unknown>;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  progress: Progress | null;
  result: JobResult | null;
  error: string | null;
  /** 'invalid' for bad input found by the library, 'timeout' past the job time limit, 'internal' for anything else. */
  errorKind: string | null;
}

/** The JSON a client sees of a job. */
export function jobView(job: Job): Record<string, unknown> {
  const base = `/api/jobs/${job.id}`;
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    params: job.summary,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: job.startedAt === null ? null : new Date(job.startedAt).toISOString(),
    finishedAt: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
    progress: job.progress === null ? null : { step: job.progress.step, total: job.progress.total },
    error: job.error,
    links: { self: base, events: `${base}/events`, cancel: `${base}/cancel`, ...(job.state === 'done' ? { result: `${base}/result`, grid: `${base}/grid.png` } : {}) },
  };
}

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

/** PNG (base64) of a raw image. */
export async function pngOf(img: WireImage): Promise<string> {
  const png = await encodePng({ data: base64ToF32(img.f32), height: img.height, width: img.width, channels: img.channels });
  return png.toString('base64');
}

/** Raw progress with PNG previews. */
export async function encodeProgress(p: RawProgress): Promise<Progress> {
  if (p.preview === undefined) return { step: p.step, total: p.total };
  const [xt, x0] = await Promise.all([p.preview.xt === undefined ? undefined : pngOf(p.preview.xt), pngOf(p.preview.x0)]);
  return { step: p.step, total: p.total, preview: xt === undefined ? { x0 } : { xt, x0 } };
}

/** A raw result with every image as PNG. */
export async function encodeResult(r: RawResult): Promise<JobResult> {
  const first = r.images[0];
  const out: JobResult = {
    images: await Promise.all(r.images.map(pngOf)),
    grid: await pngOf(r.grid),
    width: first?.width ?? r.grid.width,
    height: first?.height ?? r.grid.height,
    channels: first?.channels ?? r.grid.channels,
    classLabels: r.classLabels,
  };
  if (r.timeline !== undefined) {
    const { stepIndex, timesteps, xt, x0 } = r.timeline;
    out.timeline = { stepIndex, timesteps, xt: await Promise.all(xt.map(pngOf)), x0: await Promise.all(x0.map(pngOf)) };
  }
  if (r.forward !== undefined) {
    const { t, snr, alphaBar, frames } = r.forward;
    out.forward = { t, snr, alphaBar, frames: await Promise.all(frames.map(pngOf)) };
  }
  return out;
}

/** How a store words failures for clients. */
export interface FailureReporting {
  /** Takes file-system paths out of a message (default: none taken out). */
  scrub?(message: string): string;
  /** Where a bug's full message goes (default: the process's stderr). */
  logInternal?(line: string): void;
}

/** Every job of this server, with per-job event streams. */
export class JobStore {
  readonly #jobs = new Map<string, Job>();
  readonly #events = new EventEmitter();
  readonly #scrub: (message: string) => string;
  readonly #logInternal: (line: string) => void;

  constructor(
    readonly maxRetained: number,
    reporting: FailureReporting = {},
  ) {
    this.#events.setMaxListeners(0);
    this.#scrub = reporting.scrub ?? ((m) => m);
    this.#logInternal = reporting.logInternal ?? ((line) => process.stderr.write(`${line}\n`));
  }

  create(kind: JobKind, summary: Record<string, unknown>): Job {
    const job: Job = { id: randomUUID(), kind, state: 'queued', summary, createdAt: Date.now(), startedAt: null, finishedAt: null, progress: null, result: null, error: null, errorKind: null };
    this.#jobs.set(job.id, job);
    this.#prune();
    return job;
  }

  /** Forgets a job that was never queued (the queue refused it). */
  drop(id: string): void {
    this.#jobs.delete(id);
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  list(): Job[] {
    return [...this.#jobs.values()];
  }

  count(state: JobState): number {
    let n = 0;
    for (const j of this.#jobs.values()) if (j.state === state) n++;
    return n;
  }

  running(id: string): void {
    const job = this.#jobs.get(id);
    if (job === undefined || job.state !== 'queued') return;
    job.state = 'running';
    job.startedAt = Date.now();
    this.#emit(job, { type: 'state', state: 'running' });
  }

  progress(id: string, progress: Progress): void {
    const job = this.#jobs.get(id);
    if (job === undefined || isFinal(job.state)) return;
    if (job.state === 'queued') this.running(id);
    // Keep the last preview for late subscribers even when this update has none.
    job.progress = progress.preview === undefined && job.progress?.preview !== undefined ? { ...progress, preview: job.progress.preview } : progress;
    this.#emit(job, { type: 'progress', progress });
  }

  finish(id: string, result: JobResult): void {
    const job = this.#jobs.get(id);
    if (job === undefined || isFinal(job.state)) return;
    job.result = result;
    this.#end(job, 'done', null, null);
  }

  /**
   * Ends a job as failed. An 'internal' failure (a bug, not the request's fault) is logged whole
   * and the client sees a reference to the log; any other message is kept, its paths scrubbed.
   */
  fail(id: string, error: string, errorKind: string): void {
    const job = this.#jobs.get(id);
    if (job === undefined || isFinal(job.state)) return;
    if (errorKind === 'internal') {
      this.#logInternal(`diffuse serve: job ${id} (${job.kind}) failed with an internal error: ${error}`);
      this.#end(job, 'failed', `internal error while running the job; the server's log has the details (job ${id})`, errorKind);
    } else this.#end(job, 'failed', this.#scrub(error), errorKind);
  }

  cancelled(id: string): void {
    const job = this.#jobs.get(id);
    if (job === undefined || isFinal(job.state)) return;
    this.#end(job, 'cancelled', null, null);
  }

  #end(job: Job, state: JobState, error: string | null, errorKind: string | null): void {
    job.state = state;
    job.error = error;
    job.errorKind = errorKind;
    job.finishedAt = Date.now();
    if (job.startedAt === null && state !== 'cancelled') job.startedAt = job.finishedAt;
    this.#emit(job, error === null ? { type: 'state', state } : { type: 'state', state, error });
    this.#prune();
  }

  #emit(job: Job, e: JobEvent): void {
    this.#events.emit(job.id, e);
  }

  /** Listens to a job's events; returns the function that stops listening. */
  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    this.#events.on(id, fn);
    return () => this.#events.off(id, fn);
  }

  /** Drops the oldest finished jobs beyond the cap (unfinished jobs are bounded by the queue). */
  #prune(): void {
    let extra = this.#jobs.size - this.maxRetained;
    if (extra <= 0) return;
    for (const [id, j] of this.#jobs) {
      if (extra <= 0) break;
      if (isFinal(j.state)) {
        this.#jobs.delete(id);
        extra--;
      }
    }
  }
}
