/**
 * Entry point of a compute worker thread: runs one job at a time with compute.ts and posts its
 * progress and result back. A cancel is a flag in shared memory (the thread is busy in
 * synchronous compute and reads no messages meanwhile); it is checked at every step.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, CancelledError, type RawProgress } from './compute.js';
import type { JobSpec } from './job_types.js';
import { DiffuseError } from '../tensor/errors.js';

/** Messages from the host. */
export type ToWorker = { type: 'run'; spec: JobSpec };

/** Messages to the host. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; id: string; progress: RawProgress }
  | { type: 'done'; id: string; result: import('./compute.js').RawResult }
  | { type: 'error'; id: string; reason: 'cancelled' | 'invalid' | 'internal'; message: string };

interface Data {
  modelsDir: string;
  /** Int32Array(1) over shared memory: 1 = cancel the running job. */
  cancel: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error('thread_worker.ts runs as a worker thread only');
const data = workerData as Data;
const flag = new Int32Array(data.cancel);

port.on('message', (msg: ToWorker) => {
  if (msg.type !== 'run') return;
  const { spec } = msg;
  const controller = new AbortController();
  const check = (): void => {
    if (Atomics.load(flag, 0) !== 0 && !controller.signal.aborted) controller.abort(new CancelledError('cancelled'));
  };
  try {
    check();
    const result = runJob(spec, {
      modelsDir: data.modelsDir,
      signal: controller.signal,
      onProgress: (progress) => {
        check();
        port.postMessage({ type: 'progress', id: spec.id, progress } satisfies FromWorker);
      },
    });
    port.postMessage({ type: 'done', id: spec.id, result } satisfies FromWorker);
  } catch (e) {
    const err = e as Error;
    const reason = e instanceof CancelledError ? 'cancelled' : e instanceof DiffuseError ? 'invalid' : 'internal';
    port.postMessage({ type: 'error', id: spec.id, reason, message: reason === 'internal' ? (err.stack ?? String(err)) : err.message } satisfies FromWorker);
  }
});
port.postMessage({ type: 'ready' } satisfies FromWorker);
