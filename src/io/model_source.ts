/**
 * Where a loaded model came from (the folder `fromPretrained` read), so that an error found later,
 * e.g. a sample going NaN through weights that overflow, can name the checkpoint to look at.
 */
const sources = new WeakMap<object, string>();

/** Records that `model` was read from `dir`. */
export function recordModelSource(model: object, dir: string): void {
  sources.set(model, dir);
}

/** The folder `model` was read from, or undefined (built in code). */
export function modelSource(model: object): string | undefined {
  return sources.get(model);
}
