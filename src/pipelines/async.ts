/**
 * The promise-returning pipelines: generateAsync, inpaintAsync, img2imgAsync and upscaleAsync take
 * the options of their synchronous twins (the layer below, unchanged) and run that same code on a
 * worker thread, so the event loop stays free for the whole run (timers, I/O, a server's other
 * requests) and the images are bit-identical to the synchronous call's for the same seed.
 *
 * Cancellation as in Node's own APIs: `signal` (an AbortSignal) fired at any time rejects the
 * promise with an AbortError (a DiffuseError named 'AbortError', the signal's reason as `cause`)
 * as soon as the thread is stopped, within the model evaluation it is in; the thread, its memory
 * and the signal's listener are gone when the promise settles. `onProgress` receives the same
 * ProgressEvent per step (its x and x0Preview copied from the thread).
 *
 * What cannot cross a thread: a classifier for classifier guidance (use the synchronous call).
 * A scheduler instance travels as its class name and config, a sampler as its name, a Generator as
 * its state (advanced here afterwards exactly as the synchronous call advances it).
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../tensor/errors.js';
import { Generator } from '../tensor/random.js';
import { backend } from '../backend/backend.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { progressHandler, type ProgressEvent } from '../sampling/progress.js';
import type { GenerateOptions, GenerateResult } from './generate.js';
import type { InpaintOptions, InpaintResult } from './inpaint.js';
import type { Img2ImgOptions, Img2ImgResult } from './img2img.js';
import type { UpscaleOptions, UpscaleResult } from './superres.js';
import { abortError } from './abort_error.js';
import { decodeError, decodeValue, encodeModel, encodeValue } from './worker_codec.js';
import type { FromPipelineWorker, WorkerJob, WorkerOp } from './pipeline_worker.js';

/** V8 flags that apply to the whole process; a worker's execArgv may not carry them. */
const PROCESS_WIDE_FLAGS: ReadonlySet<string> = new Set(['--single-threaded-gc', '--single-threaded', '--max-old-space-size', '--max-semi-space-size', '--expose-gc']);

/** Options the host keeps: they are functions, signals or the model, handled here. */
const HOST_KEYS: ReadonlySet<string> = new Set(['model', 'onProgress', 'onStep', 'signal']);

/**
 * Starts the pipeline worker: the compiled .js from dist/, or the .ts source through tsx's loader
 * when running from source (Node 20 does not pass --import hooks to workers).
 */
function spawnWorker(job: WorkerJob): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const entry = new URL('./pipeline_worker.ts', self).href;
    const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(code, { eval: true, workerData: job });
  }
  const file = fileURLToPath(new URL('./pipeline_worker.js', self));
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type') && !PROCESS_WIDE_FLAGS.has(a.split('=')[0]!));
  try {
    return new Worker(file, { workerData: job, execArgv });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(file, { workerData: job, execArgv: [] });
  }
}

/** The scheduler option as plain data: a name, or an instance's class name and config. */
function encodeScheduler(op: string, o: Record<string, unknown>, out: Record<string, unknown>): void {
  const s = o['scheduler'];
  if (s === undefined || typeof s === 'string') return;
  if (s !== null && typeof s === 'object') {
    const inst = s as { className?: unknown; toConfig?: unknown; name?: unknown; sample?: unknown };
    if (typeof inst.className === 'string' && typeof inst.toConfig === 'function') {
      out['scheduler'] = inst.className;
      out['schedulerConfig'] = (inst.toConfig as () => Record<string, unknown>).call(s);
      return;
    }
    if (typeof inst.name === 'string' && typeof inst.sample === 'function') {
      out['scheduler'] = inst.name;
      return;
    }
  }
  throw new ArgumentError(`${op}: 'scheduler' must be a name ('dpmpp_2m', 'ddim', ...), a scheduler instance or a SAMPLERS entry, found ${s === null ? 'null' : typeof s}`);
}

/** Runs pipeline `op` on a worker thread with `options`; see the file comment. */
async function runOnWorker<R>(op: WorkerOp, options: object): Promise<R> {
  const name = `${op}Async`;
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${name}: expected an options object { model, ... } as ${op} takes`);
  const o = options as Record<string, unknown>;
  const model = o['model'];
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${name}: 'model' must be a UNet2DModel (UNet2DModel.fromPretrained(dir)), found ${model === null ? 'null' : typeof model}`);
  const signal = o['signal'];
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ArgumentError(`${name}: 'signal' must be an AbortSignal (new AbortController().signal, AbortSignal.timeout(ms)), found ${signal === null ? 'null' : typeof signal}`);
  if (o['classifier'] !== undefined) {
    throw new ArgumentError(`${name}: 'classifier' (classifier guidance) cannot be sent to the worker thread the async pipelines run on; call the synchronous ${op}() for classifier guidance`);
  }
  const emit = progressHandler(name, o);
  if (signal?.aborted === true) throw abortError(name, signal);
  const generator = o['generator'];

  const sent: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!HOST_KEYS.has(k) && v !== undefined) sent[k] = encodeValue(v);
  encodeScheduler(name, o, sent);
  const job: WorkerJob = { op, backend: backend().name, model: encodeModel(model), options: sent, progress: emit === undefined ? 'none' : 'tensors' };

  return new Promise<R>((resolve, reject) => {
    const worker = spawnWorker(job);
    let outcome: { ok: true; value: R } | { ok: false; error: unknown } | null = null;
    let userError: unknown = null;
    const onAbort = (): void => {
      outcome = { ok: false, error: abortError(name, signal as AbortSignal) };
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: FromPipelineWorker) => {
      if (outcome !== null) return;
      switch (msg.type) {
        case 'progress':
          try {
            emit?.(decodeValue(msg.event) as ProgressEvent);
          } catch (e) {
            // An onProgress that throws stops the run, as it does in the synchronous call.
            userError = e;
            outcome = { ok: false, error: e };
            void worker.terminate();
          }
          return;
        case 'done':
          if (generator instanceof Generator && msg.generator !== null) generator.setState(msg.generator as ReturnType<Generator['getState']>);
          outcome = { ok: true, value: decodeValue(msg.result) as R };
          return;
        case 'error':
          outcome = { ok: false, error: decodeError(msg.error) };
          return;
      }
    });
    worker.on('error', (e) => {
      outcome ??= { ok: false, error: e };
    });
    // Settle once the thread is gone, so nothing of the run outlives the promise.
    worker.on('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      const r = outcome ?? { ok: false, error: new Error(`${name}: the worker thread exited with code ${code} before finishing`) };
      if (r.ok) resolve(r.value);
      else reject(userError ?? r.error);
    });
  });
}

/**
 * `generate` on a worker thread: same options, same images for the same seed, the event loop free
 * meanwhile, and `signal` cancels within the current model evaluation.
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist');
 * const schedulerConfig = readSchedulerConfig('models/fashion-mnist/scheduler');
 * const { images } = await generateAsync({ model, schedulerConfig, scheduler: 'dpmpp_2m', n: 2, steps: 4, seed: 0, signal: AbortSignal.timeout(60_000) });
 */
export function generateAsync(options: GenerateOptions): Promise<GenerateResult> {
  return runOnWorker<GenerateResult>('generate', options);
}

/**
 * `inpaint` on a worker thread (see generateAsync).
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist');
 * const image = zeros([28, 28, 1]);
 * const { images } = await inpaintAsync({ model, image, box: { x: 7, y: 7, w: 14, h: 14 }, steps: 4, seed: 0 });
 */
export function inpaintAsync(options: InpaintOptions): Promise<InpaintResult> {
  return runOnWorker<InpaintResult>('inpaint', options);
}

/**
 * `img2img` on a worker thread (see generateAsync).
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist');
 * const { images } = await img2imgAsync({ model, image: zeros([28, 28, 1]), strength: 0.5, steps: 4, seed: 0 });
 */
export function img2imgAsync(options: Img2ImgOptions): Promise<Img2ImgResult> {
  return runOnWorker<Img2ImgResult>('img2img', options);
}

/**
 * `upscale` on a worker thread (see generateAsync).
 * @example
 * const { model, schedulerConfig, scale } = loadSuperresModel('models/fashion-mnist-sr2');
 * const { images } = await upscaleAsync({ model, schedulerConfig, scale, image: zeros([14, 14, 1]), scheduler: 'ddim', steps: 2, seed: 0 });
 */
export function upscaleAsync(options: UpscaleOptions): Promise<UpscaleResult> {
  return runOnWorker<UpscaleResult>('upscale', options);
}

