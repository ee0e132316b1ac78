/**
 * Sample grids during training (`--sample-every N`): every N steps the EMA weights draw a grid into
 * RUN_DIR/samples/step-XXXXXXX.png, so a user sees the model learn without stopping the run. The
 * grid has a fixed seed and layout (a row per class for a conditional model, up to 8 classes x 8),
 * so successive grids differ only by the weights. It samples with a separate model instance that
 * receives the EMA weights, so the training model, its autograd state and the run's random streams
 * are untouched: a run with grids takes exactly the same steps as one without.
 */
import { join } from 'node:path';
import { noGrad } from '../tensor/autograd.js';
import { UNet2DModel, type UNet2DConfig } from '../nn/unet_2d.js';
import type { EMA } from '../nn/ema.js';
import { generate } from '../pipelines/generate.js';
import { writePngGrid } from '../io/png.js';
import { makeDir } from '../io/file_ops.js';
import { existsSync } from 'node:fs';
import { checkpointName } from './checkpoint.js';

/** The grids' folder inside the run folder. */
export const SAMPLES_DIR = 'samples';

/** How a grid is drawn: the exported model's sampling defaults. */
export interface SampleGridSpec {
  schedulerConfig: Record<string, unknown>;
  /** Sampler name and steps (the ones written to sampling_config.json). */
  scheduler: string;
  steps: number;
  guidanceScale: number;
  /** Classes of a conditional model, or null. */
  numClasses: number | null;
}

/** Images per row of a grid; the labels of its images (a row per class, cycling when there are more than 8). */
export function gridLayout(numClasses: number | null): { n: number; nrow: number; labels: number[] | null } {
  const nrow = 8;
  if (numClasses === null) return { n: 64, nrow, labels: null };
  const rows = Math.min(8, numClasses);
  const labels = Array.from({ length: rows * nrow }, (_, i) => Math.floor(i / nrow) % numClasses);
  return { n: labels.length, nrow, labels };
}

/** Draws and writes grids from EMA weights; one instance per run. */
export class SampleGridWriter {
  readonly #model: UNet2DModel;
  readonly #spec: SampleGridSpec;
  readonly #dir: string;

  constructor(runDir: string, config: UNet2DConfig, spec: SampleGridSpec) {
    this.#model = new UNet2DModel(config).eval();
    this.#spec = spec;
    this.#dir = join(runDir, SAMPLES_DIR);
  }

  /** Writes the grid of `step` from the EMA's weights; returns its path. */
  async write(step: number, ema: EMA): Promise<string> {
    ema.copyTo(this.#model.parameters());
    const { n, nrow, labels } = gridLayout(this.#spec.numClasses);
    const { images } = noGrad(() =>
      generate({
        model: this.#model,
        scheduler: this.#spec.scheduler,
        schedulerConfig: this.#spec.schedulerConfig,
        steps: this.#spec.steps,
        n,
        seed: 0,
        ...(labels === null ? {} : { classLabels: labels, guidanceScale: this.#spec.guidanceScale }),
      }),
    );
    if (!existsSync(this.#dir)) makeDir(this.#dir);
    const path = join(this.#dir, `${checkpointName(step)}.png`);
    await writePngGrid(path, images, { nrow });
    return path;
  }
}
