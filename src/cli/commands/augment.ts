/**
 * `diffuse augment`: write a synthetic labelled data set, DIR/<class>/<index>.png plus a manifest
 * from which any image regenerates bit-identically (a thin client of pipelines/augment).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { writePng } from '../../io/png.js';
import { DiffuseError } from '../../tensor/errors.js';
import { augment, readAugmentManifest, regenerateAugmented } from '../../pipelines/augment.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg } from '../model_arg.js';
import { EDIT_FLAG_HELP, EDIT_FLAG_OPTIONS, intFlag, intListFlag, parseEditFlags } from '../edit_flags.js';

export const summary = 'Write a synthetic labelled data set (DIR/<class>/<index>.png + manifest).';

export const help = `diffuse augment: synthetic training data from a class-conditional model

Usage: diffuse augment --per-class N --out DIR [options]
       diffuse augment --regenerate DIR/manifest.json --index K --out image.png [--model M]

Writes DIR/<class>/<index>.png, the layout the image-folder loader reads (class folders are
named <index>_<name>, so the loader's labels are the model's classes), and DIR/manifest.json with
every setting and each image's index, class and batch. --regenerate rebuilds image K of a
manifest bit-identically (same model, kernels and thread count).

Options:
  --per-class N      Images per class (an unconditional model: images in all) (required).
  --out DIR          A new or empty folder (required).
  --classes LIST     Comma-separated class indices (default: every class of the model).
  --bit-depth B      8 (default) or 16 bits per sample (16-bit grayscale for medical data).
  --regenerate FILE  A manifest.json to regenerate from (with --index and --out; the model comes
                     from the manifest unless --model is given).
  --index K          The image to regenerate (its file name's number).
${EDIT_FLAG_HELP.replace('--class C          Class of every image, or a comma-separated list, one per image (class-\n                     conditional models; default 0, 1, 2, ... cycling).\n', '')}`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...EDIT_FLAG_OPTIONS,
      'per-class': { type: 'string' },
      out: { type: 'string' },
      classes: { type: 'string' },
      'bit-depth': { type: 'string' },
      regenerate: { type: 'string' },
      index: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse augment --help'`);
  const out = values.out;
  if (out === undefined || out === '') throw new DiffuseError('--out is required (a folder for a new set; a PNG file with --regenerate)');
  if (values.class !== undefined) throw new DiffuseError('--class does not apply to augment; choose classes with --classes 0,3,5');

  if (values.regenerate !== undefined) {
    const index = intFlag('index', values.index, 0);
    if (index === undefined) throw new DiffuseError('--regenerate needs --index K (the image to rebuild)');
    for (const f of ['per-class', 'classes', 'bit-depth', 'scheduler', 'sigmas', 'steps', 'guidance', 'eta', 'seed', 'batch'] as const) {
      if (values[f] !== undefined) throw new DiffuseError(`--${f} does not apply to --regenerate: the manifest holds every setting`);
    }
    const manifest = readAugmentManifest(values.regenerate);
    if (manifest.model.path === null && values.model === undefined) throw new DiffuseError(`the manifest does not record the model's folder; pass --model`);
    const { model } = loadModelArg(values.model ?? manifest.model.path!);
    const r = regenerateAugmented({ manifest, index, model });
    await writePng(out, r.image, { bitDepth: r.bitDepth });
    process.stdout.write(`wrote ${out} (image ${index}, class ${r.record.class ?? '-'}, ${r.bitDepth}-bit; the set's file is ${r.record.file})\n`);
    return;
  }
  if (values.index !== undefined) throw new DiffuseError('--index applies to --regenerate only');
  const perClass = intFlag('per-class', values['per-class'], 1);
  if (perClass === undefined) throw new DiffuseError('--per-class N (images per class) is required');
  const bits = intFlag('bit-depth', values['bit-depth'], 1) ?? 8;
  if (bits !== 8 && bits !== 16) throw new DiffuseError(`--bit-depth must be 8 or 16, found '${values['bit-depth']}'`);
  const classes = intListFlag('classes', values.classes, 0);
  const flags = parseEditFlags(values);

  const loaded = loadModelArg(values.model);
  let bar: ProgressBar | null = null;
  const { manifest, manifestPath } = await augment({
    model: loaded.model,
    schedulerConfig: loaded.schedulerConfig,
    ...flags,
    guidanceScale: flags.guidanceScale ?? loaded.sampling.guidanceScale,
    out,
    perClass,
    bitDepth: bits,
    ...(classes === undefined ? {} : { classes }),
    ...(loaded.classNames === null ? {} : { classNames: loaded.classNames }),
    modelPath: resolve(loaded.path),
    onProgress: ({ step, total }) => {
      bar ??= new ProgressBar({ total, label: 'augment', unit: 'step' });
      bar.update(step);
    },
  });
  if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
  const folders = new Set(manifest.images.map((im) => im.file.split(/[\\/]/).slice(0, -1).join('/')).filter((f) => f !== ''));
  process.stdout.write(`wrote ${manifest.images.length} ${bits}-bit images to ${out}/${folders.size > 0 ? ` (${folders.size} class folders: ${[...folders].slice(0, 3).join(', ')}${folders.size > 3 ? ', ...' : ''})` : ''} and ${manifestPath}\n`);
}
