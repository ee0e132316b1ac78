/**
 * The one inpainting-mask convention of every surface (library, CLI, HTTP API, web page):
 * diffusers' — 1 (white) = repaint (the model generates it), 0 (black) = keep. Until diffuse
 * 0.1.0 the CLI and the library read 1 = keep; that reading stays available as the explicit
 * convention 'keep' (`maskConvention: 'keep'`, `--mask-convention keep`).
 */
import { ArgumentError } from '../tensor/errors.js';

/** What a mask's 1 (white) means: 'repaint' (diffusers', the default) or 'keep' (the old CLI's). */
export type MaskConvention = 'repaint' | 'keep';
export const MASK_CONVENTIONS: readonly MaskConvention[] = ['repaint', 'keep'];
export const DEFAULT_MASK_CONVENTION: MaskConvention = 'repaint';

/**
 * The convention option checked, or the default.
 * @example maskConventionOf('inpaint', undefined) // 'repaint'
 */
export function maskConventionOf(op: string, value: unknown): MaskConvention {
  if (value === undefined) return DEFAULT_MASK_CONVENTION;
  if (value === 'repaint' || value === 'keep') return value;
  throw new ArgumentError(`${op}: 'maskConvention' must be 'repaint' (1 = repaint, 0 = keep; diffusers' convention, the default) or 'keep' (1 = keep, 0 = repaint; diffuse's CLI before 0.1.0), found ${JSON.stringify(value)}`);
}

/** How each mask value reads under `convention`, for messages: "1 = repaint, 0 = keep". */
export function maskMeaning(convention: MaskConvention): string {
  switch (convention) {
    case 'repaint':
      return '1 = repaint, 0 = keep';
    case 'keep':
      return '1 = keep, 0 = repaint';
  }
}

/**
 * Whether a mask value v (0 or 1) marks a kept (known) pixel under `convention`.
 * @example keeps(0, 'repaint') // true
 */
export function keeps(v: number, convention: MaskConvention): boolean {
  switch (convention) {
    case 'repaint':
      return v === 0;
    case 'keep':
      return v === 1;
  }
}
