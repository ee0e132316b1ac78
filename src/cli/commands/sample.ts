/** `diffuse sample` (placeholder: being written). */
export const summary = '(sample: not yet available)';
export const help = 'diffuse sample: not yet available\n';
export function run(_argv: string[]): void {
  throw new Error('diffuse sample is not yet available');
}
