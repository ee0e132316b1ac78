/**
 * `diffuse inpaint --method sde-pc`: score-SDE predictor-corrector inpainting (src/sde/inpaint.ts,
 * Song et al. 2021 appendix I.2) of an image with a score-SDE model or a DDPM model read as the VP
 * SDE. `diffuse inpaint` hands its arguments here for this method.
 */
import { parseArgs } from 'node:util';
import { DiffuseError } from '../../tensor/errors.js';
import { Generator } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { writePng, writePngGrid } from '../../io/png.js';
import { boxMask } from '../../pipelines/inpaint.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg } from '../model_arg.js';
import { intFlag, intListFlag, numFlag, readImageFlag, readMaskFlag } from '../edit_flags.js';
import { SDE_NAMES, type SdeName } from '../../sde/sde.js';
import { sdeFromConfig } from '../../sde/config.js';
import { scoreFromModel } from '../../sde/score.js';
import { pcInpaint } from '../../sde/inpaint.js';
import { PREDICTOR_NAMES, type PredictorName } from '../../sde/predictors.js';
import { CORRECTOR_NAMES, type CorrectorName } from '../../sde/correctors.js';

export const sdeInpaintHelp = `
--method sde-pc (score-SDE predictor-corrector inpainting, Song et al. 2021): after every
predictor and corrector update the known region is replaced by the known image diffused to that
time. Takes --model --image --mask|--box --invert-mask --out --n --seed --class --steps (default
the SDE's N, 1000) and: --sde vp|subvp|ve (checked against the model's), --predictor ${PREDICTOR_NAMES.join('|')},
--corrector ${CORRECTOR_NAMES.join('|')}, --snr R (default 0.16), --corrector-steps K.
`;

function enumFlag<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new DiffuseError(`--${name} must be one of ${allowed.join(', ')}, found '${v}'`);
  return v as T;
}

export async function runSdeInpaint(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: {
      method: { type: 'string' }, model: { type: 'string' }, image: { type: 'string' }, mask: { type: 'string' }, 'invert-mask': { type: 'boolean' },
      box: { type: 'string' }, out: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, class: { type: 'string' }, steps: { type: 'string' },
      sde: { type: 'string' }, predictor: { type: 'string' }, corrector: { type: 'string' }, snr: { type: 'string' }, 'corrector-steps': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse inpaint --help'`);
  const out = v.out;
  if (out === undefined || out === '') throw new DiffuseError('--out FILE (the completed image to write) is required');
  if (v.image === undefined) throw new DiffuseError('--image FILE (the image to complete) is required');
  if ((v.mask === undefined) === (v.box === undefined)) throw new DiffuseError('give exactly one of --mask FILE (white = keep) or --box x,y,w,h (the region to generate)');
  const sdeFlag = enumFlag<SdeName>('sde', v.sde, SDE_NAMES);
  const predictor = enumFlag<PredictorName>('predictor', v.predictor, PREDICTOR_NAMES) ?? 'reverse_diffusion';
  const corrector = enumFlag<CorrectorName>('corrector', v.corrector, CORRECTOR_NAMES) ?? 'langevin';
  const snr = numFlag('snr', v.snr) ?? 0.16;
  if (!(snr > 0)) throw new DiffuseError(`--snr must be > 0, found ${snr}`);
  const correctorSteps = intFlag('corrector-steps', v['corrector-steps'], 1) ?? 1;
  const steps = intFlag('steps', v.steps, 1);
  const n = intFlag('n', v.n, 1) ?? 1;
  const seed = intFlag('seed', v.seed, 0) ?? 0;
  const cls = intFlag('class', v.class, 0);
  let box: { x: number; y: number; w: number; h: number } | undefined;
  if (v.box !== undefined) {
    const p = intListFlag('box', v.box, 0)!;
    if (p.length !== 4) throw new DiffuseError(`--box must be x,y,w,h (four integers), found '${v.box}'`);
    box = { x: p[0]!, y: p[1]!, w: p[2]!, h: p[3]! };
  }
  const image = await readImageFlag('image', v.image);
  const [h, w, c] = image.shape as [number, number, number];
  const mask = v.mask === undefined ? boxMask(h, w, box!) : await readMaskFlag(v.mask, v['invert-mask'] === true);
  const { model, schedulerConfig } = loadModelArg(v.model);
  const cfg = model.config;
  if (cfg.inChannels !== c) throw new DiffuseError(`--image has ${c} channel(s) but the model takes ${cfg.inChannels}`);
  const ss = cfg.sampleSize;
  if (ss !== null && (typeof ss === 'number' ? ss !== h || ss !== w : ss[0] !== h || ss[1] !== w)) throw new DiffuseError(`--image is ${h}x${w} but the model's sample_size is ${JSON.stringify(ss)}`);
  const sde = sdeFromConfig(schedulerConfig, sdeFlag, "the model's scheduler_config.json");
  const classCount = cfg.numClassEmbeds !== null && cfg.classEmbedType === null ? cfg.numClassEmbeds - 1 : 0;
  if (cls !== undefined && cls >= classCount) throw new DiffuseError(`--class ${cls} is out of range: the model has ${classCount} classes`);
  // Without --class a class-conditional model runs with its null class (unconditional).
  const labels = classCount === 0 ? null : new Int32Array(n).fill(cls ?? classCount);
  model.eval();

  const pixels = image.toArray();
  const batch = new Tensor(new Float32Array(n * h * w * c).map((_, i) => pixels[i % (h * w * c)]!), [n, h, w, c]);
  const total = steps ?? sde.N;
  const bar = new ProgressBar({ total, label: `inpaint ${sde.name} pc`, unit: 'step' });
  const start = performance.now();
  const r = pcInpaint(sde, scoreFromModel(sde, model, { classLabels: labels }), batch, mask, {
    predictor, corrector, snr, correctorSteps, steps: total, generator: new Generator(seed),
    onProgress: ({ step }) => bar.update(step),
  });
  if (process.stderr.isTTY) bar.done();
  const clipped = new Tensor(Float32Array.from(r.x.toArray(), (x) => Math.min(1, Math.max(-1, x))), r.x.shape);
  if (n === 1) await writePng(out, clipped);
  else await writePngGrid(out, clipped);
  process.stdout.write(`wrote ${out} (${n} image(s), ${h}x${w}; ${sde.name} SDE, ${predictor} + ${corrector}, ${total} steps, ${r.nfe} score evaluations, ${((performance.now() - start) / 1000).toFixed(1)} s)\n`);
}
