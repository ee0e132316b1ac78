/**
 * The memory check every sampling run makes before its first step: the U-Net's parameters, the
 * activations of one forward pass (both halves with classifier-free guidance) and the images,
 * against the process's memory budget (nn/memory_budget.ts, --max-memory).
 */
import type { UNet2DModel } from '../nn/unet_2d.js';
import { checkMemoryBudget, formatBytes } from '../nn/memory_budget.js';
import { unetMemoryNeed } from '../nn/memory_estimate.js';

/**
 * Refuses, before any work, a run whose forward passes (batch x 2 with guidance) and images would
 * not fit the memory budget (nn/memory_budget.ts), naming the estimate and the fix.
 * @example checkSamplingMemory('generate', model, { n: 16, h: 28, w: 28, c: 1 }, 16, false);
 */
export function checkSamplingMemory(op: string, model: UNet2DModel, { n, h, w, c }: { n: number; h: number; w: number; c: number }, batch: number, guided: boolean): void {
  const perPass = Math.min(batch, n) * (guided ? 2 : 1);
  const need = unetMemoryNeed(`${op}: ${n} image(s) of ${h}x${w}`, model.config, { batch: perPass, height: h, width: w, mode: 'inference' }, 'use a smaller --batch (batchSize), fewer or smaller images');
  const images = 2 * n * h * w * c * 4; // the samples and the noise they start from, float32
  checkMemoryBudget({ ...need, bytes: need.bytes + images, parts: [...need.parts, `${n} image(s) and their noise = ${formatBytes(images)}`] });
}

