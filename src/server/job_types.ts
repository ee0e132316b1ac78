/**
 * What travels between the HTTP server, the queue and the workers: job kinds, states, parameters
 * and results, all plain JSON so the same objects go through postMessage (worker threads) and
 * Redis (BullMQ). Image pixels travel as base64 of their float32 bytes (in [-1, 1], (H, W, C)),
 * finished images as base64 PNG.
 */

/** What a job does. */
export type JobKind = 'generate' | 'inpaint' | 'img2img' | 'upscale' | 'explain';
export const JOB_KINDS: readonly JobKind[] = ['generate', 'inpaint', 'img2img', 'upscale', 'explain'];

/**
 * A job's life: queued -> running -> done | failed | cancelled (a queued job may also be
 * cancelled before it runs). The last three are final.
 */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export const FINAL_STATES: readonly JobState[] = ['done', 'failed', 'cancelled'];

/** An image's pixels: (height, width, channels) float32 values in [-1, 1], base64 of the bytes. */
export interface WireImage {
  height: number;
  width: number;
  channels: number;
  /** base64 of a little-endian Float32Array of height * width * channels values. */
  f32: string;
}

/** Parameters shared by the jobs that run the reverse process. */
export interface SamplingParams {
  model: string;
  /** A sampler or scheduler name as `diffuse sample --scheduler` takes it. */
  sampler: string;
  steps: number;
  seed: number;
  /** Classifier-free guidance weight (1: none). */
  guidance: number;
  /** The class of every image, or null (the model's default cycling, or an unconditional model). */
  classLabel: number | null;
  /** DDIM's or a stochastic sampler's eta. */
  eta?: number;
}

export interface GenerateParams extends SamplingParams {
  n: number;
}

export interface InpaintParams extends SamplingParams {
  image: WireImage;
  /** 1 where the model paints, 0 where the image is kept; (H, W, 1) in [0, 1] stored as f32. */
  mask: WireImage;
}

export interface Img2ImgParams extends SamplingParams {
  image: WireImage;
  /** How far into the forward process the image is pushed before denoising, in (0, 1]. */
  strength: number;
}

export interface UpscaleParams extends SamplingParams {
  /** The low-resolution image: the model's size divided by `scale`. */
  image: WireImage;
  /** The model's factor (superres.json). */
  scale: number;
}

export interface ExplainParams {
  model: string;
  image: WireImage;
  /** Training timesteps to show x_t at. */
  t: number[];
  seed: number;
}

export type JobParams =
  | { kind: 'generate'; params: GenerateParams }
  | { kind: 'inpaint'; params: InpaintParams }
  | { kind: 'img2img'; params: Img2ImgParams }
  | { kind: 'upscale'; params: UpscaleParams }
  | { kind: 'explain'; params: ExplainParams };

/** A job as a worker receives it. */
export type JobSpec = JobParams & {
  id: string;
  previewEvery?: number;
  maxTimelineFrames: number;
  /** The server's wall-clock limit for this job in ms (a worker with a lower one of its own applies that). */
  timeoutMs?: number;
};

/** Progress of a running job; a preview every few steps. */
export interface Progress {
  step: number;
  total: number;
  /** base64 PNGs of the predicted x_0 and, where the pipeline gives it, x_t (grids over the batch). */
  preview?: { xt?: string; x0: string };
}

/** A finished job's output, PNGs as base64. */
export interface JobResult {
  /** One PNG per output image. */
  images: string[];
  /** All images in one grid PNG. */
  grid: string;
  width: number;
  height: number;
  channels: number;
  classLabels: number[] | null;
  /** x_t and predicted x_0 grids through the reverse process (generate; every step up to a cap). */
  timeline?: { stepIndex: number[]; timesteps: number[]; xt: string[]; x0: string[] };
  /** The forward process (explain): x_t for each t, with its signal-to-noise ratio. */
  forward?: { t: number[]; snr: number[]; alphaBar: number[]; frames: string[] };
}

/** Float32Array <-> base64, for WireImage. */
export function f32ToBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function base64ToF32(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.byteLength >> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.byteLength));
  return out;
}
