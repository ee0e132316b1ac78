/** `diffuse train` (placeholder: being written). */
export const summary = '(train: not yet available)';
export const help = 'diffuse train: not yet available\n';
export function run(_argv: string[]): void {
  throw new Error('diffuse train is not yet available');
}
