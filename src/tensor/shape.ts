/** Shape arithmetic shared by tensors, ops and kernels (no imports, so every layer may use it). */

/** Number of elements of a shape (1 for the scalar shape []). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
