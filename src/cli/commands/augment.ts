/**
 * `diffuse augment`: write a synthetic labelled data set, DIR/<class>/<index>.png plus a manifest
 * from which any image regenerates bit-identically (a thin client of pipelines/augment).
 */
import { resolve } from 'node:path';
import { writePng } from '../../io/png.js';
import { DiffuseError, UsageError } from '../../tensor/errors.js';
import { augment, readAugmentManifest, regenerateAugmented } from '../../pipelines/augment.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg } from '../model_arg.js';
import { classRefField, resolveClassRefs } from '../class_arg.js';
import { EDIT_FLAGS, parseEditFlags, withSamplingDefaults } from '../edit_flags.js';
import { applyMaxMemory, countFlag, formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';
import { arrayField, described, enumField, hidden, intField, optional } from '../../schema/field.js';

/** augment's flags: its own, then the editing commands' (without --class: see --classes). */
const { class: _class, ...EDIT_FLAGS_WITHOUT_CLASS } = EDIT_FLAGS;
const FLAGS = {
  perClass: described(optional(intField('per_class', 1, 1)), 'Images per class (an unconditional model: images in all) (required).', { metavar: 'N' }),
  out: pathFlag('out', 'A new or empty folder (required).', 'DIR'),
  classes: described(optional(arrayField('classes', classRefField('classes'), [], 1), 'every class of the model'), 'Comma-separated classes: indices or class names of the model.', { metavar: 'LIST' }),
  bitDepth: described({ ...enumField('bit_depth', ['8', '16'], '8'), allowed: '8 or 16' }, 'Bits per sample: 8, or 16 (16-bit grayscale for medical data).', { metavar: 'B' }),
  regenerate: pathFlag('regenerate', 'A manifest.json to regenerate from (with --index and --out; the model comes from the manifest unless --model is given).'),
  index: described(optional(intField('index', 0, 0)), "The image to regenerate (its file name's number).", { metavar: 'K' }),
  ...EDIT_FLAGS_WITHOUT_CLASS,
  class: hidden(EDIT_FLAGS.class),
} as const;

export const summary = 'Write a synthetic labelled data set (DIR/<class>/<index>.png + manifest).';

export const help = `diffuse augment: synthetic training data from a class-conditional model

Usage: diffuse augment --per-class N --out DIR [options]
       diffuse augment --regenerate DIR/manifest.json --index K --out image.png [--model M]

Writes DIR/<class>/<index>.png, the layout the image-folder loader reads (class folders are
named <index>_<name>, so the loader's labels are the model's classes), and DIR/manifest.json with
every setting and each image's index, class and batch. --regenerate rebuilds image K of a
manifest bit-identically (same model, kernels and thread count).

Options:
${formatFlagHelp(FLAGS)}`;

export async function run(argv: string[]): Promise<void> {
  const { values, given } = parseCommandFlags('augment', FLAGS, argv);
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('--out is required (a folder for a new set; a PNG file with --regenerate)');
  if (values.class !== undefined) throw new UsageError('--class does not apply to augment; choose classes with --classes 0,3,5');

  if (values.regenerate !== undefined) {
    const index = values.index;
    if (index === undefined) throw new UsageError('--regenerate needs --index K (the image to rebuild)');
    for (const f of ['perClass', 'classes', 'bitDepth', 'scheduler', 'sigmas', 'steps', 'guidance', 'eta', 'seed', 'batch'] as const) {
      if (given.has(f)) throw new UsageError(`--${FLAGS[f].flag ?? FLAGS[f].key.replace(/_/g, '-')} does not apply to --regenerate: the manifest holds every setting`);
    }
    applyMaxMemory(values.maxMemory);
    const manifest = readAugmentManifest(values.regenerate);
    if (manifest.model.path === null && values.model === undefined) throw new DiffuseError(`the manifest does not record the model's folder; pass --model`);
    const { model } = loadModelArg(values.model ?? manifest.model.path!, { allowNonfinite: values.allowNonfinite });
    const r = regenerateAugmented({ manifest, index, model });
    await writePng(out, r.image, { bitDepth: r.bitDepth });
    process.stdout.write(`wrote ${out} (image ${index}, class ${r.record.class ?? '-'}, ${r.bitDepth}-bit; the set's file is ${r.record.file})\n`);
    return;
  }
  if (values.index !== undefined) throw new UsageError('--index applies to --regenerate only');
  const perClass = values.perClass;
  if (perClass === undefined) throw new UsageError('--per-class N (images per class) is required');
  const bits = values.bitDepth === '16' ? 16 : 8;
  const classes = values.classes === undefined ? undefined : resolveClassRefs(values.classes, values.model, 'classes');
  const parsed = parseEditFlags(values);

  const loaded = loadModelArg(values.model, { allowNonfinite: values.allowNonfinite });
  const flags = withSamplingDefaults(parsed, loaded.sampling);
  let bar: ProgressBar | null = null;
  const { manifest, manifestPath } = await augment({
    model: loaded.model,
    schedulerConfig: loaded.schedulerConfig,
    ...flags,
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
