/**
 * Entry point of the worker thread behind the async pipelines (pipelines/async.ts): rebuilds the
 * U-Net and the options sent by the host (pipelines/worker_codec.ts), runs the one synchronous
 * pipeline asked for (generate, inpaint, img2img or upscale: the same code, so the same images
 * for the same seed), posts a progress message per step and then the result or the error. The
 * host cancels by terminating the thread, so nothing here waits for messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useBackend, type BackendName } from '../backend/backend.js';
import { Generator } from '../tensor/random.js';
import { generate } from './generate.js';
import { inpaint } from './inpaint.js';
import { img2img } from './img2img.js';
import { upscale } from './superres.js';
import { decodeModel, decodeValue, encodeError, encodeValue, type EncodedError, type EncodedModel } from './worker_codec.js';
import type { ProgressEvent } from '../sampling/progress.js';

/** The pipelines a worker runs. */
export type WorkerOp = 'generate' | 'inpaint' | 'img2img' | 'upscale';

/** Which progress the host wants: none, the counts, or the counts with the step's tensors. */
export type WorkerProgress = 'none' | 'counts' | 'tensors';

/** What the host starts a worker with. */
export interface WorkerJob {
  op: WorkerOp;
  backend: BackendName;
  model: EncodedModel;
  /** The options, encoded, without model, onProgress, onStep and signal. */
  options: Record<string, unknown>;
  progress: WorkerProgress;
}

/** Messages to the host. */
export type FromPipelineWorker =
  | { type: 'progress'; event: unknown }
  | { type: 'done'; result: unknown; generator: unknown }
  | { type: 'error'; error: EncodedError };

const RUN: Readonly<Record<WorkerOp, (options: never) => unknown>> = { generate, inpaint, img2img, upscale };

const port = parentPort;
if (port === null) throw new Error('pipeline_worker.js runs as a worker thread only');
const job = workerData as WorkerJob;
try {
  useBackend(job.backend);
  const options = decodeValue(job.options) as Record<string, unknown>;
  options['model'] = decodeModel(job.model);
  if (job.progress !== 'none') {
    options['onProgress'] = (e: ProgressEvent): void => {
      const event = job.progress === 'tensors' ? e : { step: e.step, total: e.total, ...(e.nfe === undefined ? {} : { nfe: e.nfe }) };
      port.postMessage({ type: 'progress', event: encodeValue(event) } satisfies FromPipelineWorker);
    };
  }
  const result = RUN[job.op](options as never);
  const gen = options['generator'];
  port.postMessage({ type: 'done', result: encodeValue(result), generator: gen instanceof Generator ? gen.getState() : null } satisfies FromPipelineWorker);
} catch (e) {
  port.postMessage({ type: 'error', error: encodeError(e) } satisfies FromPipelineWorker);
}
