/**
 * `diffuse inpaint`: complete the masked-out region of an image with a trained model (a thin
 * client of pipelines/inpaint): the replacement method with any scheduler or sampler, or RePaint.
 */
import { parseArgs } from 'node:util';
import { writePng, writePngGrid } from '../../io/png.js';
import { sliceBatch } from '../../ops/slice.js';
import { Tensor } from '../../tensor/tensor.js';
import { DiffuseError } from '../../tensor/errors.js';
import { inpaint, boxMask, INPAINT_METHODS, type InpaintMethod, type Box } from '../../pipelines/inpaint.js';
import { writeComparisonFigure } from '../../pipelines/explain.js';
import { ProgressBar } from '../progress.js';
import { runSdeInpaint, sdeInpaintHelp } from './inpaint_sde.js';
import { loadModelArg } from '../model_arg.js';
import { EDIT_FLAG_HELP, EDIT_FLAG_OPTIONS, intFlag, intListFlag, parseEditFlags, readImageFlag, readMaskFlag } from '../edit_flags.js';

export const summary = 'Inpaint: generate a masked region of an image, keeping the rest exactly.';

export const help = `diffuse inpaint: fill in part of an image with a trained diffusion model

Usage: diffuse inpaint --image in.png (--mask mask.png | --box x,y,w,h) --out out.png [options]

The known pixels come back exactly as in the input; the rest is generated to fit them.

Options:
  --image FILE       The image (PNG/JPEG) at the model's size and channel count (required).
  --mask FILE        Which pixels to keep: white (above mid-grey) = keep, black = generate.
  --invert-mask      Black = keep, white = generate (diffusers' convention).
  --box x,y,w,h      Instead of --mask: the rectangle to generate (left column, top row, width,
                     height in pixels); everything else is kept.
  --out FILE         The completed image (a grid of the completions with --n > 1) (required).
  --method M         replace (default: the known region, noised to each step's level, replaces
                     the model's input at every step; any --scheduler), repaint (Lugmayr et al.
                     2022: DDPM steps with resampling; default --scheduler ddpm) or sde-pc (below).
  --jump-length J    RePaint: steps to jump back up each time (default 10).
  --jump-n-sample R  RePaint: passes over each jump interval (default 10; 1 = no resampling).
  --n N              Completions of the image (default 1).
  --compare FILE     Also write input | mask | output(s) side by side as a labelled PNG.
${EDIT_FLAG_HELP}${sdeInpaintHelp}`;

/** Parses --box x,y,w,h. */
function parseBox(v: string): Box {
  const parts = intListFlag('box', v, 0)!;
  if (parts.length !== 4) throw new DiffuseError(`--box must be x,y,w,h (four integers: left column, top row, width, height), found '${v}'`);
  const [x, y, w, h] = parts as [number, number, number, number];
  if (w < 1 || h < 1) throw new DiffuseError(`--box width and height must be >= 1, found '${v}'`);
  return { x, y, w, h };
}

export async function run(argv: string[]): Promise<void> {
  if (argv.some((a, i) => a === '--method=sde-pc' || (a === '--method' && argv[i + 1] === 'sde-pc'))) return runSdeInpaint(argv);
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...EDIT_FLAG_OPTIONS,
      image: { type: 'string' },
      mask: { type: 'string' },
      'invert-mask': { type: 'boolean' },
      box: { type: 'string' },
      out: { type: 'string' },
      method: { type: 'string' },
      'jump-length': { type: 'string' },
      'jump-n-sample': { type: 'string' },
      n: { type: 'string' },
      compare: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse inpaint --help'`);
  // Every flag is checked before the model is loaded.
  const out = values.out;
  if (out === undefined || out === '') throw new DiffuseError('--out FILE (the completed image to write) is required');
  if (values.image === undefined) throw new DiffuseError('--image FILE (the image to complete) is required');
  if ((values.mask === undefined) === (values.box === undefined)) throw new DiffuseError('give exactly one of --mask FILE (white = keep) or --box x,y,w,h (the region to generate)');
  if (values['invert-mask'] === true && values.mask === undefined) throw new DiffuseError('--invert-mask applies to --mask only');
  const method = (values.method ?? 'replace') as InpaintMethod;
  if (!INPAINT_METHODS.includes(method)) throw new DiffuseError(`--method must be one of ${INPAINT_METHODS.join(', ')}, found '${values.method}'`);
  const jumpLength = intFlag('jump-length', values['jump-length'], 1);
  const jumpNSample = intFlag('jump-n-sample', values['jump-n-sample'], 1);
  if (method !== 'repaint' && (jumpLength !== undefined || jumpNSample !== undefined)) throw new DiffuseError('--jump-length and --jump-n-sample apply to --method repaint only');
  const flags = parseEditFlags(values, method === 'repaint' ? 'ddpm' : 'ddim');
  const n = intFlag('n', values.n, 1) ?? 1;
  const box = values.box === undefined ? undefined : parseBox(values.box);

  const image = await readImageFlag('image', values.image);
  const mask = values.mask === undefined ? undefined : await readMaskFlag(values.mask, values['invert-mask'] === true);
  const { model, schedulerConfig, sampling } = loadModelArg(values.model);
  let bar: ProgressBar | null = null;
  const result = inpaint({
    model,
    schedulerConfig,
    ...flags,
    guidanceScale: flags.guidanceScale ?? sampling.guidanceScale,
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
    const keep = mask ?? boxMask(h, w, box!);
    // The input with the generated region greyed out, and the mask (white = keep).
    const kept = keep.toArray();
    const holed = new Tensor(Float32Array.from(image.toArray(), (v, i) => (kept[Math.floor(i / c)] === 1 ? v : 0)), image.shape);
    const maskImg = new Tensor(Float32Array.from({ length: h * w * c }, (_, i) => (kept[Math.floor(i / c)] === 1 ? 1 : -1)), [h, w, c]);
    const cols = [
      { image, caption: 'input' },
      { image: holed, caption: 'known region' },
      { image: maskImg, caption: 'mask (white = keep)' },
      ...Array.from({ length: n }, (_, i) => ({ image: sliceBatch(result.images, i, i + 1), caption: n === 1 ? 'output' : `output ${i + 1}` })),
    ];
    await writeComparisonFigure(values.compare, `Inpainting (${method}${method === 'repaint' ? `, j = ${jumpLength ?? 10}, r = ${jumpNSample ?? 10}` : ''}, ${flags.scheduler}, ${flags.steps ?? 50} steps)`, [cols]);
    wrote.push(values.compare);
  }
  process.stdout.write(`wrote ${wrote.join(', ')}\n`);
}
