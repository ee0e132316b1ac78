/**
 * Which job kinds this build can run: generate, inpaint and img2img; upscale (superres.ts) and
 * explain (explain.ts) once their library pipelines are part of it. The server answers 501 for
 * the others.
 */
import type { JobKind } from './job_types.js';

/** Kinds with a pipeline behind them. */
export function availableKinds(): JobKind[] {
  return ['generate', 'inpaint', 'img2img'];
}
