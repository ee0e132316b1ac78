/**
 * `diffuse inpaint --method sde-pc`: score-SDE predictor-corrector inpainting (src/sde/inpaint.ts,
 * Song et al. 2021 appendix I.2) of an image with a score-SDE model or a DDPM model read as the VP
 * SDE. `diffuse inpaint` hands its arguments here for this method.
 */
import { UsageError } from '../../tensor/errors.js';
import { Generator } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { writePng, writePngGrid } from '../../io/png.js';
import { boxMask } from '../../pipelines/inpaint.js';
import { modelImageSize } from '../../pipelines/edit.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg } from '../model_arg.js';
import { INVERT_MASK_FLAG, MASK_CONVENTION_FLAG, intListFlag, maskConventionFlag, maskConventionNote, readImageFlag, readMaskFlag } from '../edit_flags.js';
import { classRefField, resolveClassRefs } from '../class_arg.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, MODEL_FLAG, SEED_FLAG, countFlag, parseCommandFlags, pathFlag, ALLOW_NONFINITE_FLAG } from '../flags.js';
import { boolField, described, enumField, intField, numberField, optional, stringField } from '../../schema/field.js';
import { SDE_NAMES, type SdeName } from '../../sde/sde.js';
import { sdeFromConfig } from '../../sde/config.js';
import { scoreFromModel } from '../../sde/score.js';
import { pcInpaint } from '../../sde/inpaint.js';
import { FiniteGuard } from '../../sampling/finite_check.js';
import { guardedScore } from '../../sampling/sde_process.js';
import { PREDICTOR_NAMES, type PredictorName } from '../../sde/predictors.js';
import { CORRECTOR_NAMES, type CorrectorName } from '../../sde/correctors.js';

export const sdeInpaintHelp = `
--method sde-pc (score-SDE predictor-corrector inpainting, Song et al. 2021): after every
predictor and corrector update the known region is replaced by the known image diffused to that
time. Takes --model --image --mask|--box --mask-convention --out --n --seed --class --steps (default
the SDE's N, 1000) and: --sde vp|subvp|ve (checked against the model's), --predictor ${PREDICTOR_NAMES.join('|')},
--corrector ${CORRECTOR_NAMES.join('|')}, --snr R (default 0.16), --corrector-steps K.
`;

/** The flags of --method sde-pc (as schema fields; `diffuse inpaint` hands its argv here). */
const FLAGS = {
  method: described(enumField('method', ['sde-pc'], 'sde-pc'), 'sde-pc.'),
  model: MODEL_FLAG,
  allowNonfinite: ALLOW_NONFINITE_FLAG,
  image: pathFlag('image', 'The image (required).'),
  mask: pathFlag('mask', 'White = repaint, black = keep (--mask-convention keep: the opposite).'),
  maskConvention: MASK_CONVENTION_FLAG,
  invertMask: INVERT_MASK_FLAG,
  box: described(optional(stringField('box', '')), 'The rectangle to generate.', { metavar: 'x,y,w,h' }),
  out: pathFlag('out', 'The completed image (required).'),
  n: countFlag('n', 1, 1, 'Completions.'),
  seed: SEED_FLAG,
  class: described(optional(classRefField('class')), 'Class of every completion: an index or a class name of the model.', { metavar: 'C' }),
  steps: described(optional(intField('steps', 1, 1), "the SDE's N"), 'Predictor steps.', { metavar: 'K' }),
  sde: described(optional(enumField<SdeName>('sde', SDE_NAMES, 'vp')), "The SDE (checked against the model's)."),
  predictor: described(enumField<PredictorName>('predictor', PREDICTOR_NAMES, 'reverse_diffusion'), 'Predictor.'),
  corrector: described(enumField<CorrectorName>('corrector', CORRECTOR_NAMES, 'langevin'), 'Corrector.'),
  snr: described(numberField('snr', 0.16, 0, 10, true), "Langevin corrector's signal-to-noise ratio, a number in (0, 10].", { metavar: 'R' }),
  correctorSteps: countFlag('corrector_steps', 1, 1, 'Corrector steps per predictor step.', 'K'),
  maxMemory: MAX_MEMORY_FLAG,
} as const;

export async function runSdeInpaint(argv: string[]): Promise<void> {
  const { values: v, given } = parseCommandFlags('inpaint', FLAGS, argv);
  applyMaxMemory(v.maxMemory);
  const out = v.out;
  if (out === undefined || out === '') throw new UsageError('--out FILE (the completed image to write) is required');
  if (v.image === undefined) throw new UsageError('--image FILE (the image to complete) is required');
  if ((v.mask === undefined) === (v.box === undefined)) throw new UsageError('give exactly one of --mask FILE (white = repaint) or --box x,y,w,h (the region to generate)');
  const convention = maskConventionFlag(v, given, v.mask !== undefined);
  const { predictor, corrector, snr, correctorSteps, steps, n, seed } = v;
  const sdeFlag = v.sde;
  const cls = v.class === undefined ? undefined : resolveClassRefs([v.class], v.model)[0]!;
  let box: { x: number; y: number; w: number; h: number } | undefined;
  if (v.box !== undefined) {
    const p = intListFlag('box', v.box, 0)!;
    if (p.length !== 4) throw new UsageError(`--box must be x,y,w,h (four integers), found '${v.box}'`);
    box = { x: p[0]!, y: p[1]!, w: p[2]!, h: p[3]! };
  }
  const { model, schedulerConfig } = loadModelArg(v.model, { allowNonfinite: v.allowNonfinite });
  // The image header is checked against the model's size before any pixel is decoded (the mask is
  // compared with the image after; both are bounded by the decode pixel limit).
  const image = await readImageFlag('image', v.image, modelImageSize(model));
  const [h, w, c] = image.shape as [number, number, number];
  const mask = v.mask === undefined ? boxMask(h, w, box!) : await readMaskFlag(v.mask, convention); // 1 = repaint
  if (v.mask !== undefined) {
    const note = maskConventionNote(v.mask, convention, given.has('maskConvention') ? 'flag' : v.invertMask ? 'invert-mask' : 'default', mask.toArray().reduce((a, x) => a + x, 0), mask.size);
    if (note !== null) process.stderr.write(`diffuse inpaint: ${note}\n`);
  }
  const cfg = model.config;
  if (cfg.inChannels !== c) throw new UsageError(`--image has ${c} channel(s) but the model takes ${cfg.inChannels}`);
  const ss = cfg.sampleSize;
  if (ss !== null && (typeof ss === 'number' ? ss !== h || ss !== w : ss[0] !== h || ss[1] !== w)) throw new UsageError(`--image is ${h}x${w} but the model's sample_size is ${JSON.stringify(ss)}`);
  const sde = sdeFromConfig(schedulerConfig, sdeFlag, "the model's scheduler_config.json");
  const classCount = cfg.numClassEmbeds !== null && cfg.classEmbedType === null ? cfg.numClassEmbeds - 1 : 0;
  if (cls !== undefined && cls >= classCount) throw new UsageError(`--class ${cls} is out of range: the model has ${classCount} classes`);
  // Without --class a class-conditional model runs with its null class (unconditional).
  const labels = classCount === 0 ? null : new Int32Array(n).fill(cls ?? classCount);
  model.eval();

  const pixels = image.toArray();
  const batch = new Tensor(new Float32Array(n * h * w * c).map((_, i) => pixels[i % (h * w * c)]!), [n, h, w, c]);
  const total = steps ?? sde.N;
  const bar = new ProgressBar({ total, label: `inpaint ${sde.name} pc`, unit: 'step' });
  const start = performance.now();
  const guard = new FiniteGuard({ op: 'inpaint-sde', method: `the SDE predictor-corrector sampler (${predictor} + ${corrector})`, total, models: [model] });
  const r = pcInpaint(sde, guardedScore(guard, 'pc', scoreFromModel(sde, model, { classLabels: labels })), batch, mask, {
    predictor, corrector, snr, correctorSteps, steps: total, generator: new Generator(seed),
    onProgress: ({ step, x }) => {
      if (x !== undefined) guard.sample(x, step - 1);
      guard.entry = step;
      bar.update(step);
    },
  });
  guard.sample(r.x, total - 1);
  if (process.stderr.isTTY) bar.done();
  const clipped = new Tensor(Float32Array.from(r.x.toArray(), (x) => Math.min(1, Math.max(-1, x))), r.x.shape);
  if (n === 1) await writePng(out, clipped);
  else await writePngGrid(out, clipped);
  process.stdout.write(`wrote ${out} (${n} image(s), ${h}x${w}; ${sde.name} SDE, ${predictor} + ${corrector}, ${total} steps, ${r.nfe} score evaluations, ${((performance.now() - start) / 1000).toFixed(1)} s)\n`);
}
