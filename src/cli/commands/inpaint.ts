/**
 * `diffuse inpaint`: complete the masked-out region of an image with a trained model (a thin
 * client of pipelines/inpaint): the replacement method with any scheduler or sampler, or RePaint.
 */
import { writePng, writePngGrid } from '../../io/png.js';
import { sliceBatch } from '../../ops/slice.js';
import { Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../tensor/errors.js';
import { inpaint, boxMask, INPAINT_METHODS, type InpaintMethod, type Box } from '../../pipelines/inpaint.js';
import { writeComparisonFigure } from '../../pipelines/explain.js';
import { modelImageSize } from '../../pipelines/edit.js';
import { ProgressBar } from '../progress.js';
import { runSdeInpaint, sdeInpaintHelp } from './inpaint_sde.js';
import { loadModelArg } from '../model_arg.js';
import { EDIT_FLAGS, INVERT_MASK_FLAG, MASK_CONVENTION_FLAG, intListFlag, maskConventionFlag, maskConventionNote, parseEditFlags, readImageFlag, readMaskFlag, withSamplingDefaults } from '../edit_flags.js';
import { countFlag, formatFlagHelp, parseCommandFlags, pathFlag, schedulerFlag, SAMPLING_DEFAULT_TEXT } from '../flags.js';
import { boolField, described, enumField, intField, optional, stringField } from '../../schema/field.js';

/** RePaint needs DDPM steps: its fallback scheduler (a --scheduler still wins). */
const REPAINT_SCHEDULER = 'ddpm';

const FLAGS = {
  image: pathFlag('image', "The image (PNG/JPEG) at the model's size and channel count (required)."),
  mask: pathFlag('mask', "Which pixels to generate: white (above mid-grey) = repaint, black = keep (diffusers' convention; --mask-convention keep for the old white = keep)."),
  maskConvention: MASK_CONVENTION_FLAG,
  invertMask: INVERT_MASK_FLAG,
  box: described(optional(stringField('box', '')), 'Instead of --mask: the rectangle to generate (left column, top row, width, height in pixels); everything else is kept.', { metavar: 'x,y,w,h' }),
  out: pathFlag('out', 'The completed image (a grid of the completions with --n > 1) (required).'),
  method: described(
    enumField<InpaintMethod | 'sde-pc'>('method', [...INPAINT_METHODS, 'sde-pc'], 'replace'),
    `replace (the known region, noised to each step's level, replaces the model's input at every step; any --scheduler), repaint (Lugmayr et al. 2022: DDPM steps with resampling; --scheduler defaults to ${REPAINT_SCHEDULER}) or sde-pc (below).`,
    { metavar: 'M' },
  ),
  jumpLength: described(optional(intField('jump_length', 10, 1), '10'), 'RePaint: steps to jump back up each time.', { metavar: 'J' }),
  jumpNSample: described(optional(intField('jump_n_sample', 10, 1), '10'), 'RePaint: passes over each jump interval (1 = no resampling).', { metavar: 'R' }),
  n: countFlag('n', 1, 1, 'Completions of the image.'),
  compare: pathFlag('compare', 'Also write input | mask | output(s) side by side as a labelled PNG.'),
  ...EDIT_FLAGS,
  scheduler: schedulerFlag(`${SAMPLING_DEFAULT_TEXT.scheduler}; ${REPAINT_SCHEDULER} with --method repaint`),
} as const;

export const summary = 'Inpaint: generate a masked region of an image, keeping the rest exactly.';

export const help = `diffuse inpaint: fill in part of an image with a trained diffusion model

Usage: diffuse inpaint --image in.png (--mask mask.png | --box x,y,w,h) --out out.png [options]

The known pixels come back exactly as in the input; the rest is generated to fit them.

Masks follow diffusers' convention, as the library, the HTTP API and the web page do: white =
repaint (generate), black = keep. Until 0.1.0 the CLI read white = keep: for masks made that way
pass --mask-convention keep (each run with --mask without --mask-convention prints which
convention it used and how many pixels it repaints).

Options:
${formatFlagHelp(FLAGS)}${sdeInpaintHelp}`;

/** Parses --box x,y,w,h. */
function parseBox(v: string): Box {
  const parts = intListFlag('box', v, 0)!;
  if (parts.length !== 4) throw new UsageError(`--box must be x,y,w,h (four integers: left column, top row, width, height), found '${v}'`);
  const [x, y, w, h] = parts as [number, number, number, number];
  if (w < 1 || h < 1) throw new UsageError(`--box width and height must be >= 1, found '${v}'`);
  return { x, y, w, h };
}

export async function run(argv: string[]): Promise<void> {
  if (argv.some((a, i) => a === '--method=sde-pc' || (a === '--method' && argv[i + 1] === 'sde-pc'))) return runSdeInpaint(argv);
  const { values, given } = parseCommandFlags('inpaint', FLAGS, argv);
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('--out FILE (the completed image to write) is required');
  if (values.image === undefined) throw new UsageError('--image FILE (the image to complete) is required');
  if ((values.mask === undefined) === (values.box === undefined)) throw new UsageError('give exactly one of --mask FILE (white = repaint) or --box x,y,w,h (the region to generate)');
  const convention = maskConventionFlag(values, given, values.mask !== undefined);
  const method = values.method as InpaintMethod;
  const { jumpLength, jumpNSample } = values;
  if (method !== 'repaint' && (jumpLength !== undefined || jumpNSample !== undefined)) throw new UsageError('--jump-length and --jump-n-sample apply to --method repaint only');
  const parsed = parseEditFlags(values);
  const n = values.n;
  const box = values.box === undefined ? undefined : parseBox(values.box);

  const { model, schedulerConfig, sampling } = loadModelArg(values.model, { allowNonfinite: values.allowNonfinite });
  // The image header is checked against the model's size before any pixel is decoded (the mask is
  // compared with the image after; both are bounded by the decode pixel limit).
  const image = await readImageFlag('image', values.image, modelImageSize(model));
  const mask = values.mask === undefined ? undefined : await readMaskFlag(values.mask, convention);
  if (mask !== undefined) {
    const note = maskConventionNote(values.mask!, convention, given.has('maskConvention') ? 'flag' : values.invertMask ? 'invert-mask' : 'default', mask.toArray().reduce((a, v) => a + v, 0), mask.size);
    if (note !== null) process.stderr.write(`diffuse inpaint: ${note}\n`);
  }
  // RePaint runs DDPM steps whatever the model's sampling_config.json prefers.
  const flags = method === 'repaint' ? withSamplingDefaults(parsed, { ...sampling, scheduler: null, numInferenceSteps: null }, REPAINT_SCHEDULER) : withSamplingDefaults(parsed, sampling);
  let bar: ProgressBar | null = null;
  const result = inpaint({
    model,
    schedulerConfig,
    ...flags,
    image,
    ...(mask === undefined ? {} : { mask }),
    ...(box === undefined ? {} : { box }),
    method,
    ...(jumpLength === undefined ? {} : { jumpLength }),
    ...(jumpNSample === undefined ? {} : { jumpNSample }),
    n,
    onProgress: ({ step, total }) => {
      bar ??= new ProgressBar({ total, label: 'inpaint', unit: 'step' });
      bar.update(step);
    },
  });
  if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
  if (n === 1) await writePng(out, result.images);
  else await writePngGrid(out, result.images);
  const wrote = [`${out} (${n === 1 ? '1 image' : `${n} images`}, ${result.images.shape[1]}x${result.images.shape[2]}, ${result.keep.filter((k) => k === 0).length / n} values generated, ${result.modelEvaluations} model evaluations each)`];
  if (values.compare !== undefined) {
    const [, h, w, c] = result.images.shape as [number, number, number, number];
    const repaint = (mask ?? boxMask(h, w, box!)).toArray(); // 1 = repaint
    // The input with the generated region greyed out, and the mask (white = repaint).
    const holed = new Tensor(Float32Array.from(image.toArray(), (v, i) => (repaint[Math.floor(i / c)] === 0 ? v : 0)), image.shape);
    const maskImg = new Tensor(Float32Array.from({ length: h * w * c }, (_, i) => (repaint[Math.floor(i / c)] === 1 ? 1 : -1)), [h, w, c]);
    const cols = [
      { image, caption: 'input' },
      { image: holed, caption: 'known region' },
      { image: maskImg, caption: 'mask (white = repaint)' },
      ...Array.from({ length: n }, (_, i) => ({ image: sliceBatch(result.images, i, i + 1), caption: n === 1 ? 'output' : `output ${i + 1}` })),
    ];
    await writeComparisonFigure(values.compare, `Inpainting (${method}${method === 'repaint' ? `, j = ${jumpLength ?? 10}, r = ${jumpNSample ?? 10}` : ''}, ${flags.scheduler}, ${flags.steps} steps)`, [cols]);
    wrote.push(values.compare);
  }
  process.stdout.write(`wrote ${wrote.join(', ')}\n`);
}
