/**
 * Predictor-corrector inpainting with a score SDE (Song et al. 2021, appendix I.2; score_sde's
 * pc_inpainter): start from the known pixels and prior noise elsewhere; after every corrector and
 * every predictor update, replace the known region by the known data diffused to the current time,
 * m(t) x_known + std(t) z (and its mean by m(t) x_known), so the unknown region is sampled from the
 * model conditioned on it. At the end the known pixels are pasted back exactly (score_sde leaves
 * them at m(eps) x_known, within 1e-3 of the data; here they come back bit for bit).
 */
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { where } from '../ops/where.js';
import { combine } from '../diffusion/forward.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { noGrad } from '../tensor/autograd.js';
import { linspace } from '../diffusion/schedules.js';
import { noiseLike } from '../samplers/sampler.js';
import { DEFAULT_MASK_CONVENTION, keeps, maskConventionOf, maskMeaning, type MaskConvention } from '../diffusion/mask_convention.js';
import { SDE_T, type ScoreFn, type Sde } from './sde.js';
import { predictorStep, type PcStep } from './predictors.js';
import { correctorStep } from './correctors.js';
import { defaultSamplingEps, type PcOptions, type SdeSampleResult } from './pc_sampler.js';

/**
 * A mask in `convention` (mask_convention.ts; default diffusers' 1 = repaint, 0 = keep) as keep
 * bytes broadcast to x's shape (N, H, W, C): 1 = known, 0 = generate. Accepts (H, W), (H, W, 1),
 * (H, W, C), (1, H, W, C|1) or (N, H, W, C|1).
 */
export function expandMask(op: string, mask: Tensor, shape: readonly number[], convention: MaskConvention = DEFAULT_MASK_CONVENTION): Uint8Array {
  expectTensor(op, 'mask', mask);
  const [n, h, w, c] = shape as [number, number, number, number];
  const ms = mask.shape;
  const mh = ms.length === 2 ? ms[0]! : ms.length === 3 ? ms[0]! : ms[1]!;
  const mw = ms.length === 2 ? ms[1]! : ms.length === 3 ? ms[1]! : ms[2]!;
  const mc = ms.length === 2 ? 1 : ms[ms.length - 1]!;
  const mn = ms.length === 4 ? ms[0]! : 1;
  if (ms.length < 2 || ms.length > 4 || mh !== h || mw !== w || (mc !== 1 && mc !== c) || (mn !== 1 && mn !== n)) {
    throw new ShapeError(`${op}: the mask has shape ${fmtShape(ms)}; for images ${fmtShape(shape)} it must be (H, W) = (${h}, ${w}), (H, W, 1|C) or (1|N, H, W, 1|C)`);
  }
  const out = new Uint8Array(n * h * w * c);
  const values = mask.toArray();
  for (let b = 0; b < n; b++)
    for (let p = 0; p < h * w; p++)
      for (let k = 0; k < c; k++) {
        const v = values[((mn === 1 ? 0 : b) * h * w + p) * mc + (mc === 1 ? 0 : k)]!;
        if (v !== 0 && v !== 1) throw new ArgumentError(`${op}: mask values must be 0 or 1 (${maskMeaning(convention)}), found ${v}`);
        out[((b * h * w + p) * c) + k] = keeps(v, convention) ? 1 : 0;
      }
  return out;
}

/** Options of pcInpaint: the PC sampler's, and what the mask's 1 means. */
export interface PcInpaintOptions extends PcOptions {
  /** 'repaint' (default; diffusers': 1 = repaint, 0 = keep) or 'keep' (1 = keep; diffuse before 0.1.0). */
  maskConvention?: MaskConvention;
}

/**
 * Inpaints `image` (N, H, W, C) in [-1, 1] where `mask` is 1 (diffusers' convention; 0 = keep).
 * @example
 * const gen = new Generator(0);
 * const { x } = pcInpaint(sde, score, image, mask, { predictor: 'reverse_diffusion', corrector: 'langevin', snr: 0.16, generator: gen });
 */
export function pcInpaint(sde: Sde, score: ScoreFn, image: Tensor, mask: Tensor, options: PcInpaintOptions = {}): SdeSampleResult {
  const op = 'pcInpaint';
  expectTensor(op, 'image', image);
  if (image.rank !== 4) throw new ShapeError(`${op}: image must be (N, H, W, C), found ${fmtShape(image.shape)}`);
  const keep = expandMask(op, mask, image.shape, maskConventionOf(op, options.maskConvention));
  if (options.generator === undefined && options.noise === undefined) throw new ArgumentError(`${op}: inpainting draws noise; pass options.generator (new Generator(seed)) or options.noise`);
  const predictor = options.predictor ?? 'reverse_diffusion';
  const corrector = options.corrector ?? 'langevin';
  if (predictor === 'none' && corrector === 'none') throw new ArgumentError(`${op}: predictor and corrector are both 'none'`);
  const steps = options.steps ?? sde.N;
  if (!Number.isInteger(steps) || steps < 1) throw new ArgumentError(`${op}: steps must be an integer >= 1, found ${String(steps)}`);
  const eps = options.eps ?? defaultSamplingEps(sde);
  if (typeof eps !== 'number' || !(eps > 0 && eps < SDE_T)) throw new ArgumentError(`${op}: eps must be in (0, ${SDE_T}), found ${String(eps)}`);
  const noise = {
    ...(options.generator === undefined ? {} : { generator: options.generator }),
    ...(options.noise === undefined ? {} : { noise: options.noise }),
  };
  let nfe = 0;
  const s: ScoreFn = (x, t) => {
    options.signal?.throwIfAborted();
    nfe++;
    return noGrad(() => score(x, t));
  };
  // The mask as a tensor (1 = keep), selected with `where`; the affine terms through combine
  // (in double, rounded once), so no step copies to the host.
  const keepT = tensor(keep, image.shape, { dtype: image.dtype, device: image.device });
  // Known region <- m(t) x_known + std(t) z; its mean <- m(t) x_known.
  const replace = ({ x, xMean }: PcStep, t: number): PcStep => {
    const { mean, std } = sde.marginal(t);
    const z = noiseLike(op, x, noise);
    const knownMean = combine(op, mean, image, 0, image);
    const knownX = combine(op, 1, knownMean, std, z);
    return { x: where(keepT, knownX, x), xMean: where(keepT, knownMean, xMean) };
  };
  // x_T: the known pixels, and a prior draw N(0, priorStd^2) elsewhere.
  const z0 = noiseLike(op, image, noise);
  let st: PcStep = { x: where(keepT, image, combine(op, sde.priorStd, z0, 0, z0)), xMean: image };
  const disc = steps === sde.N ? sde : sde.withSteps(steps);
  const ts = linspace(SDE_T, eps, steps);
  const dt = -SDE_T / steps;
  for (let i = 0; i < steps; i++) {
    const t = ts[i]!;
    if (corrector !== 'none') st = replace(correctorStep(corrector, disc, s, st.x, t, { snr: options.snr ?? 0.16, nSteps: options.correctorSteps ?? 1, ...noise }), t);
    if (predictor !== 'none') st = replace(predictorStep(predictor, disc, s, st.x, t, dt, noise), t);
    options.callback?.({ i, t, x: st.x, xMean: st.xMean });
    options.onProgress?.({ step: i + 1, total: steps, x: st.x, x0Preview: st.xMean });
  }
  const out = options.denoise === false ? st.x : st.xMean;
  return { x: where(keepT, image, out), nfe };
}
