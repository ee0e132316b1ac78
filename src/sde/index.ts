/** Score-based generative modelling through SDEs (Song et al. 2021): the SDEs, samplers, likelihood, training objective and inpainting. */
export { Sde, SDE_NAMES, SDE_T, SDE_EPS, checkTime, type SdeName, type ScoreFn, type DiscreteStep } from './sde.js';
export { VpSde, VP_DEFAULTS, type VpOptions } from './vp.js';
export { SubVpSde } from './subvp.js';
export { VeSde, VE_DEFAULTS, type VeOptions } from './ve.js';
export { makeSde, sdeFromConfig, isSdeConfig, type SdeParams } from './config.js';
export { scoreFromModel, scoreScale, modelTimeInput, withFrozenParameters, type ScoreModel, type ScoreFromModelOptions } from './score.js';
export { rk45, rk45Tensor, rmsNorm, OdeSolverError, type OdeFunction, type TensorOdeFunction, type Rk45Options, type Rk45Result } from './rk45.js';
export { predictorStep, eulerMaruyamaPredictor, reverseDiffusionPredictor, ancestralPredictor, PREDICTOR_NAMES, type PredictorName, type PcStep, type NoiseOptions } from './predictors.js';
export { correctorStep, langevinCorrector, annealedLangevinCorrector, CORRECTOR_NAMES, type CorrectorName, type CorrectorOptions } from './correctors.js';
export { pcSample, defaultSamplingEps, type PcOptions, type SdeSampleResult } from './pc_sampler.js';
export { odeSample, probabilityFlowDrift, type OdeSampleOptions } from './ode_sampler.js';
export {
  odeLikelihood, odeLikelihoodOfModel, dequantize, meanWithCi, TRACE_ESTIMATORS, LIKELIHOOD_DEFAULTS,
  type TraceEstimator, type OdeLikelihoodOptions, type OdeLikelihoodResult, type ModelLikelihoodOptions, type ModelLikelihoodResult,
} from './likelihood.js';
export { sdeObjective, sdeOfTrainConfig, SDE_TRAIN_EPS, type SdeDraw } from './objective.js';
export { pcInpaint, expandMask } from './inpaint.js';
