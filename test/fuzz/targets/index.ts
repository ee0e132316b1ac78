/** Every fuzz target, by name, in the order the runner takes them. */
import { safetensorsTarget } from './safetensors.js';
import { modelFolderTarget } from './model_folder.js';
import { runFolderTarget } from './run_folder.js';
import { configFilesTarget } from './config_files.js';
import { imageTarget } from './images.js';
import { imageFolderTarget } from './image_folder.js';
import { httpTarget } from './http.js';
import { selfTestTarget } from './self_test.js';
import type { Target } from '../target.js';

export const TARGETS: readonly Target[] = [safetensorsTarget, modelFolderTarget, runFolderTarget, configFilesTarget, imageTarget, imageFolderTarget, httpTarget];

/** The target called `name` (the harness's self-test included), or an error listing them. */
export function targetNamed(name: string): Target {
  const t = [...TARGETS, selfTestTarget].find((x) => x.name === name);
  if (t === undefined) throw new Error(`no fuzz target '${name}' (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
