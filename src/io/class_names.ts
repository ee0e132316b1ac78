/**
 * A model folder's class names: classes.json beside model_index.json, written at export, so the
 * names travel with the model (the web page, `--class NAME` and eval reports read them) rather than
 * being re-read from a training folder that may have moved. diffusers keeps pipeline-level facts
 * in small JSON files beside model_index.json (DiT's id2label lives in its transformer config);
 * model_index.json itself is left as diffusers reads it (every key there names a component).
 *
 *   { "class_names": ["circle", "square", "triangle"] }
 *
 * Label k is class_names[k]; the U-Net's last class embedding (num_class_embeds - 1) is the null
 * class of classifier-free guidance and has no name.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJSONFile, writeJSONAtomic } from './checkpoint.js';
import { DiffuseError } from '../tensor/errors.js';

/** The file name, beside model_index.json. */
export const CLASS_NAMES_NAME = 'classes.json';

/** Writes `dir/classes.json` atomically. */
export function writeClassNames(dir: string, names: readonly string[]): void {
  writeJSONAtomic(join(dir, CLASS_NAMES_NAME), { class_names: [...names] });
}

/** The class names in `dir/classes.json`, or null when the folder has none; a malformed file is an error naming it. */
export function readClassNamesFile(dir: string): string[] | null {
  const path = join(dir, CLASS_NAMES_NAME);
  if (!existsSync(path)) return null;
  const j = readJSONFile(path) as { class_names?: unknown } | null;
  const names = j !== null && typeof j === 'object' ? j.class_names : undefined;
  if (!Array.isArray(names) || names.length === 0 || !names.every((s) => typeof s === 'string' && s !== '') || new Set(names).size !== names.length) {
    throw new DiffuseError(`${path}: expected { "class_names": [distinct non-empty strings] }, found ${JSON.stringify(j).slice(0, 200)}; fix or delete the file`);
  }
  return names as string[];
}

/**
 * The class names of the model whose U-Net is in `unetDir`: classes.json in the folder above it
 * (the pipeline or checkpoint folder) or beside it; null when neither has one.
 * @example readClassNames('models/fashion-mnist/unet')?.[9] // 'ankle boot'
 */
export function readClassNames(unetDir: string): string[] | null {
  return readClassNamesFile(dirname(unetDir)) ?? readClassNamesFile(unetDir);
}
