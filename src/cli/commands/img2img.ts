/**
 * `diffuse img2img`: SDEdit image-to-image with a trained model (a thin client of
 * pipelines/img2img): noise the input to a strength and run the reverse process from there.
 */
import { writePng, writePngGrid } from '../../io/png.js';
import { sliceBatch } from '../../ops/slice.js';
import { Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../tensor/errors.js';
import { img2img } from '../../pipelines/img2img.js';
import { modelImageSize } from '../../pipelines/edit.js';
import { writeComparisonFigure } from '../../pipelines/explain.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg } from '../model_arg.js';
import { EDIT_FLAGS, parseEditFlags, readImageFlag, withSamplingDefaults } from '../edit_flags.js';
import { countFlag, formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';
import { arrayField, described, numberField, optional } from '../../schema/field.js';

const FLAGS = {
  image: pathFlag('image', "The input (PNG/JPEG) at the model's size and channel count (required)."),
  strength: described(
    optional({ ...arrayField('strength', numberField('strength', 0, 0, 1), [], 1), allowed: 'in [0, 1] (or a comma-separated list of such)' }),
    'The fraction of the schedule to run, in [0, 1] (required). A comma-separated list (0.25,0.5,1) runs each strength with the same seed.',
    { metavar: 'S' },
  ),
  out: pathFlag('out', 'The output image (a grid with several strengths or --n > 1) (required).'),
  n: countFlag('n', 1, 1, 'Variations of the input.'),
  compare: pathFlag('compare', 'Also write input | output(s) side by side as a labelled PNG.'),
  ...EDIT_FLAGS,
} as const;

export const summary = 'Image-to-image (SDEdit): re-imagine an image at a chosen strength.';

export const help = `diffuse img2img: image-to-image translation by SDEdit (Meng et al. 2022)

Usage: diffuse img2img --image in.png --strength S --out out.png [options]

The input is noised part of the way up the forward process and denoised from there: of the
--steps steps of the schedule the last floor(steps * S) run (diffusers' img2img truncation).
S = 0 returns the input; small S keeps the layout and changes details; S = 1 runs the whole
schedule from the noisiest level.

Options:
${formatFlagHelp(FLAGS)}`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseCommandFlags('img2img', FLAGS, argv);
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('--out FILE (the output image) is required');
  if (values.image === undefined) throw new UsageError('--image FILE (the input image) is required');
  if (values.strength === undefined) throw new UsageError('--strength S (the fraction of the schedule to run, in [0, 1]) is required');
  const strengths = [...values.strength];
  const parsed = parseEditFlags(values);
  const n = values.n;

  const { model, schedulerConfig, sampling } = loadModelArg(values.model, { allowNonfinite: values.allowNonfinite });
  // The header is checked against the model's size before any pixel is decoded.
  const image = await readImageFlag('image', values.image, modelImageSize(model));
  const flags = withSamplingDefaults(parsed, sampling);
  const results = strengths.map((strength) => {
    // One bar per strength: each runs its own number of steps.
    let bar: ProgressBar | null = null;
    const r = img2img({
      model, schedulerConfig, ...flags, image, strength, n,
      onProgress: ({ step, total }) => {
        bar ??= new ProgressBar({ total, label: `img2img ${strength}`, unit: 'step' });
        bar.update(step);
      },
    });
    if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
    return r;
  });
  const [, h, w, c] = results[0]!.images.shape as [number, number, number, number];
  // Rows: variations; columns: strengths.
  const cells = new Float32Array(n * strengths.length * h * w * c);
  const images = results.map((r) => r.images.toArray());
  for (let i = 0; i < n; i++) for (const [k, im] of images.entries()) cells.set(im.subarray(i * h * w * c, (i + 1) * h * w * c), (i * strengths.length + k) * h * w * c);
  const grid = new Tensor(cells, [n * strengths.length, h, w, c]);
  if (grid.shape[0] === 1) await writePng(out, grid);
  else await writePngGrid(out, grid, { nrow: strengths.length });
  const runs = results.map((r, k) => `strength ${strengths[k]}: ${r.stepsRun} of ${flags.steps} steps${r.startTimestep === null ? '' : ` from t = ${Number(r.startTimestep.toPrecision(4))}`}`);
  const wrote = [`${out} (${grid.shape[0]} image${grid.shape[0] === 1 ? '' : 's'}; ${runs.join('; ')})`];
  if (values.compare !== undefined) {
    const rows = Array.from({ length: n }, (_, i) => [
      { image, caption: 'input' },
      ...results.map((r, k) => ({ image: sliceBatch(r.images, i, i + 1), caption: `strength ${strengths[k]}` })),
    ]);
    await writeComparisonFigure(values.compare, `SDEdit img2img (${flags.scheduler}, ${flags.steps} steps, seed ${flags.seed})`, rows);
    wrote.push(values.compare);
  }
  process.stdout.write(`wrote ${wrote.join(', ')}\n`);
}
