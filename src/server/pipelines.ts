/**
 * Which job kinds this build can run: generate, inpaint, img2img and explain; upscale once its
 * library pipeline (src/pipelines/superres.ts) is part of it. The server answers 501 for the others.
 */
import type { JobKind } from './job_types.js';

/** Kinds with a pipeline behind them. */
export function availableKinds(): JobKind[] {
  return ['generate', 'inpaint', 'img2img', 'explain'];
}
