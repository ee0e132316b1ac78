/**
 * The server's limits: what one request may ask for and how much work may wait. Every request is
 * checked against them before a job is queued, so nothing a client sends can make the server
 * run away with memory or time.
 */
import { ArgumentError } from '../tensor/errors.js';

/** Limits of `diffuse serve` (all inclusive). */
export interface Limits {
  /** Most reverse steps per job (DDPM on the bundled model takes 1000). */
  maxSteps: number;
  /** Most images per generate request. */
  maxImages: number;
  /**
   * Largest uploaded image file in bytes. Uploads travel base64 inside JSON (4/3 of the file), so
   * the request body may be larger: see maxBodyBytes.
   */
  maxUploadBytes: number;
  /** Largest side in pixels of an uploaded image (checked from the header before decoding). */
  maxImageSide: number;
  /** Most jobs waiting for a worker; one more is answered 429. Running jobs do not count. */
  queueSize: number;
  /** Most t values of one explain request. */
  maxExplainFrames: number;
  /** Finished jobs kept for their results (oldest finished dropped first). */
  maxRetainedJobs: number;
  /** Most frames of the x_t / predicted x_0 timeline (every step up to this many). */
  maxTimelineFrames: number;
  /**
   * Longest a job may run, in seconds (wall clock, from the moment a compute thread takes it); a
   * job past it is cancelled and fails with a message naming the limit.
   */
  jobTimeoutSeconds: number;
}

/** Defaults: a 1000-step DDPM run of 16 28x28 images is the largest job. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxSteps: 1000,
  maxImages: 16,
  maxUploadBytes: 2 * 1024 * 1024,
  maxImageSide: 1024,
  queueSize: 16,
  maxExplainFrames: 64,
  maxRetainedJobs: 200,
  maxTimelineFrames: 101,
  jobTimeoutSeconds: 3600,
});

/** Bytes a JSON body may take besides its images (field names, numbers, a data: URL prefix). */
const BODY_OVERHEAD_BYTES = 16 * 1024;
/** Most images one request uploads (inpaint: the image and its mask). */
const MAX_UPLOADS_PER_REQUEST = 2;

/** Length of the base64 text of an upload of `bytes` bytes (4 characters per 3 bytes). */
export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

/**
 * The largest request body: the most uploads a request makes, each at maxUploadBytes as base64,
 * plus room for the other fields. A larger body is answered 413 before it is parsed.
 * @example maxBodyBytes(DEFAULT_LIMITS) // 5609472
 */
export function maxBodyBytes(limits: Limits): number {
  return MAX_UPLOADS_PER_REQUEST * base64Length(limits.maxUploadBytes) + BODY_OVERHEAD_BYTES;
}

/** Defaults overridden by `partial`, each value checked. */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(partial) as [keyof Limits, unknown][]) {
    if (!(k in DEFAULT_LIMITS)) throw new ArgumentError(`server limits: unknown limit '${String(k)}'; known: ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
    if (v === undefined) continue;
    const min = k === 'queueSize' ? 0 : k === 'maxTimelineFrames' ? 2 : 1;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new ArgumentError(`server limits: '${k}' must be an integer >= ${min}, found ${String(v)}`);
    out[k] = v;
  }
  return out;
}
