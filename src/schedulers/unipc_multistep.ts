/**
 * UniPCMultistepScheduler: the unified predictor-corrector of Zhao et al. 2023 ("UniPC: A Unified
 * Predictor-Corrector Framework for Fast Sampling of Diffusion Models", arXiv 2302.04867,
 * Algorithms 1-3, B(h) variants bh1 and bh2), diffusers 0.25.1-compatible (config keys, defaults,
 * timesteps, sigmas and step arithmetic). With h = lambda_t - lambda_s0, hh = -h for data
 * prediction (predict_x0) or +h for noise prediction, and the model outputs m_k at earlier points
 * with r_k = (lambda_{s_k} - lambda_{s0}) / h and D_k = (m_k - m0) / r_k:
 *   UniP-p: x_t = (sigma_t / sigma_s0) x - alpha_t (e^hh - 1) m0 - alpha_t B(h) sum_k rho_k D_k
 *   (noise prediction: (alpha_t / alpha_s0) x - sigma_t (e^hh - 1) m0 - sigma_t B(h) sum_k rho_k D_k),
 * the rho solving R rho = b with R_ik = r_k^(i-1), b_i = i! phi_{i+1}(hh) hh / B(h) (eq. 5-8;
 * rho = 1/2 for p = 2). UniC-p re-does the last step once the model has been evaluated at its
 * result, adding that evaluation as one more point (r = 1): the corrected x replaces the sample
 * (it costs no extra model call: the corrector reuses the next step's model output).
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import {
  CLIP_FIELDS,
  SCHEDULE_FIELDS,
  SPACING_FIELDS,
  boolField,
  intField,
  parseSchedulerConfig,
  type ConfigField,
  type ConfigOf,
  type DiffusersConfig,
  type SchedulerOutput,
  type StepOptions,
} from './scheduler.js';
import { SigmaMultistepScheduler, aliasedEnumField, convertOutput, type SigmaSchedule, type VpPoint } from './sigma_multistep.js';
import { dividedDifference } from './divided_difference.js';
import { linearCombination, type LinearTerm } from '../ops/linear_combination.js';

/** UniPC's B(h): bh1 = hh, bh2 = e^hh - 1 (the paper recommends bh1 for unconditional, bh2 for guided sampling). */
export type UniPCSolverType = 'bh1' | 'bh2';
export const UNIPC_SOLVER_TYPES: readonly UniPCSolverType[] = ['bh1', 'bh2'];

/** `disable_corrector`: step indices after which the corrector is skipped. */
function indexListField(key: string): ConfigField<readonly number[]> {
  return {
    key,
    default: Object.freeze([]),
    allowed: 'an array of step indices (integers >= 0)',
    parse: (v) => (Array.isArray(v) && v.every((i) => typeof i === 'number' && Number.isInteger(i) && i >= 0) ? Object.freeze([...(v as number[])]) : undefined),
    toJson: (v) => [...v],
  };
}

/** `solver_p`: diffusers lets another scheduler act as the predictor; only null (UniP itself) is supported. */
function nullOnlyField(key: string, what: string): ConfigField<null> {
  return { key, default: null, allowed: `null (${what})`, parse: (v) => (v === null ? null : undefined), toJson: () => null };
}

/** UniPCMultistepScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const UNIPC_MULTISTEP_FIELDS = {
  ...SCHEDULE_FIELDS,
  solverOrder: intField('solver_order', 2, 1, 3),
  predictionType: CLIP_FIELDS.predictionType,
  thresholding: CLIP_FIELDS.thresholding,
  dynamicThresholdingRatio: CLIP_FIELDS.dynamicThresholdingRatio,
  sampleMaxValue: CLIP_FIELDS.sampleMaxValue,
  predictX0: boolField('predict_x0', true),
  // diffusers reads DPM-Solver / DEIS solver types as bh2.
  solverType: aliasedEnumField<UniPCSolverType>('solver_type', UNIPC_SOLVER_TYPES, 'bh2', { midpoint: 'bh2', heun: 'bh2', logrho: 'bh2' }),
  lowerOrderFinal: boolField('lower_order_final', true),
  disableCorrector: indexListField('disable_corrector'),
  solverP: nullOnlyField('solver_p', 'another scheduler as the predictor is not supported'),
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  timestepSpacing: { ...SPACING_FIELDS.timestepSpacing, default: 'linspace' as const },
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

/** The parsed config (camelCase). */
export type UniPCMultistepConfig = ConfigOf<typeof UNIPC_MULTISTEP_FIELDS> & { readonly rescaleBetasZeroSnr: false };

/** The chain's memory: converted outputs (newest last), the sample the last predictor started from, its order. */
interface UniPCMemory {
  outputs: Tensor[];
  lastSample: Tensor;
  lastOrder: number;
}

/** Solves the small dense system A z = b (Gaussian elimination with partial pivoting). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row.slice(0, n), b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k] = M[r]![k]! - f * M[c]![k]!;
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * z[k]!;
    z[r] = s / M[r]![r]!;
  }
  return z;
}

/**
 * UniPC with diffusers' `UniPCMultistepScheduler` contract (deterministic).
 * @example
 * const s = new UniPCMultistepScheduler({ solver_order: 2, solver_type: 'bh2' });
 * s.setTimesteps(10);
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
export class UniPCMultistepScheduler extends SigmaMultistepScheduler<UniPCMultistepConfig, UniPCMemory> {
  /** Builds from a diffusers config object (snake_case keys; missing keys take diffusers' defaults). */
  constructor(config: DiffusersConfig = {}) {
    const parsed = parseSchedulerConfig('UniPCMultistepScheduler', UNIPC_MULTISTEP_FIELDS, config);
    super('UniPCMultistepScheduler', UNIPC_MULTISTEP_FIELDS, Object.freeze({ ...parsed, rescaleBetasZeroSnr: false as const }));
  }

  /** The same as `new UniPCMultistepScheduler(config)`, diffusers' spelling. */
  static fromConfig(config: DiffusersConfig): UniPCMultistepScheduler {
    return new UniPCMultistepScheduler(config);
  }

  protected schedule(n: number): SigmaSchedule {
    return this.spacedSchedule(n, this.config);
  }

  /**
   * One step at timesteps[i]: first UniC corrects the sample the previous predictor produced (x)
   * using this model output, then UniP predicts the sample at the next sigma from the corrected
   * one. predOriginalSample is the model's x_0 at x (after thresholding).
   */
  step(modelOutput: Tensor, t: number, x: Tensor, _options: StepOptions = {}): SchedulerOutput {
    const op = 'UniPCMultistepScheduler.step';
    const c = this.config;
    const i = this.locate(op, t);
    this.stepInputs(op, modelOutput, x, false);
    const memory = this.recall(op, i, x);
    return noGrad(() => {
      const n = this.timesteps.length;
      // diffusers thresholds only in data-prediction mode (predict_x0); noise prediction ignores it.
      const threshold = { ...c, thresholding: c.thresholding && c.predictX0 };
      const { converted, x0 } = convertOutput(modelOutput, x, this.point(i), c.predictionType, c.predictX0, threshold);
      // Corrector: only after a predictor step of this chain, unless disabled for that step.
      let sample = x;
      if (memory !== null && !c.disableCorrector.includes(i - 1)) {
        sample = this.update(memory.lastOrder, i - 1, memory.outputs, memory.lastSample, converted);
      }
      const outputs = [...(memory?.outputs ?? []), converted].slice(-c.solverOrder);
      // Order: warm up over the chain's first steps; lower_order_final shrinks it to the steps left.
      const wanted = c.lowerOrderFinal ? Math.min(c.solverOrder, n - i) : c.solverOrder;
      const order = Math.min(wanted, outputs.length);
      const prev = this.update(order, i, outputs, sample, null);
      this.remember(i, x, { outputs, lastSample: sample, lastOrder: order });
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }

  /**
   * The order-p B(h) update from sigma index s0 to s0 + 1 starting at x, with m = the outputs up
   * to and including s0 (newest last). With `corrector` = the model output at s0 + 1 it is UniC-p
   * (one more point, r = 1), else UniP-p.
   */
  private update(p: number, s0: number, m: readonly Tensor[], x: Tensor, corrector: Tensor | null): Tensor {
    const c = this.config;
    const pt: VpPoint = this.point(s0 + 1);
    const ps: VpPoint = this.point(s0);
    const h = pt.lambda - ps.lambda;
    // A zero-length step (Karras sigmas repeat the last one) is the identity; its weights are 0/0.
    if (h === 0) return linearCombination([[1, x]]);
    const m0 = m[m.length - 1]!;
    // Earlier points: r_k and D_k = (m_k - m0) / r_k for k = 1..p-1 (in float64).
    const rks: number[] = [];
    const Ds: Tensor[] = [];
    for (let k = 1; k < p; k++) {
      const rk = (this.point(s0 - k).lambda - ps.lambda) / h;
      rks.push(rk);
      Ds.push(dividedDifference(m[m.length - 1 - k]!, m0, rk));
    }
    rks.push(1);
    const hh = c.predictX0 ? -h : h;
    const hPhi1 = Math.expm1(hh); // h phi_1(h) = e^hh - 1
    const Bh = c.solverType === 'bh1' ? hh : hPhi1;
    // R_ik = r_k^(i-1); b_i = h phi_{i+1}(hh) i! / B(h), with h phi_{k+1} = h phi_k / hh - 1/k!.
    const R: number[][] = [];
    const b: number[] = [];
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    for (let i = 1; i <= p; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * factorial) / Bh);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    // The x and m0 terms: data prediction (sigma_t / sigma_s) x - alpha_t (e^hh - 1) m0, noise
    // prediction (alpha_t / alpha_s) x - sigma_t (e^hh - 1) m0; the rest is scaled by w B(h).
    const w = c.predictX0 ? pt.alpha : pt.sigma;
    const xCoef = c.predictX0 ? pt.sigma / ps.sigma : pt.alpha / ps.alpha;
    const terms: LinearTerm[] = [[xCoef, x], [-w * hPhi1, m0]];
    if (corrector === null) {
      if (p >= 2) {
        const rho = p === 2 ? [0.5] : solve(R.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1));
        rho.forEach((r, k) => terms.push([-w * Bh * r, Ds[k]!]));
      }
    } else {
      const rho = p === 1 ? [0.5] : solve(R, b);
      rho.slice(0, -1).forEach((r, k) => terms.push([-w * Bh * r, Ds[k]!]));
      // D1_t = m_t - m0, the new point at r = 1.
      const rt = rho[rho.length - 1]!;
      terms.push([-w * Bh * rt, corrector], [w * Bh * rt, m0]);
    }
    return linearCombination(terms);
  }
}
