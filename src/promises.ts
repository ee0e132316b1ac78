/**
 * `diffuse/promises`: the pipelines that return promises, under their plain names, as Node's
 * `fs/promises` and `timers/promises` give the promise forms of `fs` and `timers`:
 *
 *   import { generate } from 'diffuse/promises';
 *   const { images } = await generate({ model, scheduler: 'dpmpp_2m', n: 16, steps: 20, seed: 0, signal });
 *
 * Each runs its synchronous twin from 'diffuse' on a worker thread (pipelines/async.ts).
 */
export { generateAsync as generate, inpaintAsync as inpaint, img2imgAsync as img2img, upscaleAsync as upscale } from './pipelines/async.js';
export { DiffusionPipeline } from './pipelines/diffusion_pipeline.js';
export { AbortError } from './pipelines/abort_error.js';
