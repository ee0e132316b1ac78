/**
 * Which job kinds this build can run: generate always; the editing kinds once their library
 * pipelines (src/pipelines/inpaint.ts, img2img.ts, upscale.ts, explain.ts) are part of it. The
 * server answers 501 for the others.
 */
import type { JobKind } from './job_types.js';

/** Kinds with a pipeline behind them. */
export function availableKinds(): JobKind[] {
  return ['generate'];
}
