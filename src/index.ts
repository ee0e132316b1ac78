/**
 * diffuse: diffusion models in TypeScript for Node.js. The package root exports the tensor
 * engine (tensors, autograd, ops, random generator, optimizers) and the layers built on it.
 */
export { Tensor, numel, type DType, type HostArray, type Storage } from './tensor/tensor.js';
export { tensor, zeros, ones, full, scalar, type TensorOptions } from './tensor/create.js';
export { noGrad, isGradEnabled } from './tensor/autograd.js';
export { Generator, rand, randn, type GeneratorState } from './tensor/random.js';
export { DiffuseError, ShapeError, DTypeError, DeviceError, ArgumentError, NativeLoadError, NativeKernelError } from './tensor/errors.js';
export { backend, useBackend, withBackend, type Backend, type BackendName, type Kernels } from './backend/backend.js';
export { getDevice, registerDevice, unregisterDevice, type Device, type DeviceBuffer, type DeviceHandle } from './backend/device.js';
export { cpu } from './backend/cpu.js';
export { engineInfo, setNumThreads, type EngineInfo } from './engine_info.js';
export * from './ops/index.js';
export { AdamW } from './nn/adamw.js';
export { EMA } from './nn/ema.js';

// Layers and the U-Net (diffusers' UNet2DModel, same names and config).
export { Module, ModuleList, StateDictError } from './nn/module.js';
export { Conv2d, Linear, GroupNorm, Embedding, Dropout } from './nn/layers.js';
export { Attention } from './nn/attention.js';
export { ResnetBlock2D, Downsample2D, Upsample2D } from './nn/resnet.js';
export { Timesteps, TimestepEmbedding, sinusoidalEmbedding } from './nn/embeddings.js';
export { UNet2DModel, resolveConfig, configFromJSON, configToJSON, ConfigError, UNET2D_BOUNDS, type UNet2DConfig } from './nn/unet_2d.js';
export { setMaxMemory, maxMemory, defaultMaxMemory, parseByteSize, MemoryBudgetError } from './nn/memory_budget.js';
export { unetParameterCount, unetActivationBytes } from './nn/memory_estimate.js';

// Diffusion math, noise schedules and diffusers-compatible schedulers.
export * from './diffusion/schedules.js';
export * from './diffusion/forward.js';
export * from './diffusion/loss.js';
export * from './diffusion/kl.js';
export * from './diffusion/discretized_gaussian.js';
export * from './diffusion/vlb.js';
export * from './diffusion/vlb_bpd.js';
export * from './diffusion/timestep_sampler.js';
export { learnedVarianceObjective } from './train/objectives/learned_variance.js';
export * from './schedulers/index.js';

// Data and files.
export * from './data/index.js';
export { readSafetensors, writeSafetensors, parseSafetensors, SafetensorsError } from './io/safetensors.js';
export * from './io/checkpoint.js';
export { writePng, writePngGrid, readPng, imageGrid, decodeImage, probeImage, ImageDecodeError, DEFAULT_MAX_PIXELS } from './io/png.js';

// Pipelines.
export {
  generate, resolveScheduler, schedulerNames, SCHEDULER_ALIASES, IMAGE_STREAM_COUNTERS, DEFAULT_BATCH_SIZE,
  type GenerateOptions, type GenerateResult, type Trajectory, type SchedulerChoice, type ResolvedScheduler,
} from './pipelines/generate.js';
export { inpaint, boxMask, repaintSchedule, INPAINT_METHODS, type InpaintOptions, type InpaintResult, type InpaintMethod, type Box } from './pipelines/inpaint.js';
export { img2img, img2imgStart, type Img2ImgOptions, type Img2ImgResult } from './pipelines/img2img.js';
export { augment, regenerateAugmented, readAugmentManifest, modelFingerprint, type AugmentOptions, type AugmentResult, type AugmentManifest } from './pipelines/augment.js';
export { forwardFrames, reverseTrajectory, lossPerTimestep, writeForwardFigure, writeTrajectoryFigure, writeTrajectoryGif, writeLossChart, writeComparisonFigure } from './pipelines/explain.js';
export { type EditOptions, type ProgressCallback } from './pipelines/edit.js';
// The reverse-process engine: the method registry, the contract and its adapters, the conditioned model, progress.
export { samplingMethods, findMethod, methodNames, methodDefaultSteps, DEFAULT_STEPS, SDE_SAMPLERS, type SamplingMethod, type MethodKind, type SdeSamplerName } from './sampling/registry.js';
export { reverseProcess, plannedLoops, type ReverseProcess, type ReverseProcessOptions, type RunContext, type KnownRegion, type EntryEvent } from './sampling/reverse_process.js';
export { conditionedModel, type ConditionedModel, type ConditionedModelOptions } from './sampling/conditioned_model.js';
export { sdeSample, type SdeSampleOptions, type SdeSampleOutput } from './sampling/sde_process.js';
export { type ProgressEvent, type ProgressHandler } from './sampling/progress.js';
export { classifierFreeGuidance } from './diffusion/classifier_free_guidance.js';
export { upscale, loadSuperresModel, evaluateUpscale, type UpscaleOptions, type UpscaleResult, type SuperresModel, type UpscaleEvaluation } from './pipelines/superres.js';
export { classifierGuide, classifierLogProbGrad, type ClassifierGuide, type GuidingClassifier } from './sampling/classifier_guidance.js';
export { NoisyClassifier, NOISY_CLASSIFIER_DEFAULTS, resolveClassifierConfig, type NoisyClassifierConfig } from './nn/noisy_classifier.js';
export { areaDownsample, bicubicResize, degrade } from './data/resample.js';
export { psnr, ssim, imageQuality, type ImageQuality } from './eval/image_metrics.js';
export * from './samplers/index.js';
export { encodeGif, writeGif, type GifOptions } from './io/gif.js';

// Score-based SDEs: VP/sub-VP/VE, predictor-corrector and probability-flow ODE sampling, exact likelihood, inpainting.
export * from './sde/index.js';

// Training.
export { train, TrainingError, referenceUNetConfigPath, type TrainOptions, type TrainResult, type TrainHooks, type TrainMetrics } from './train/trainer.js';
export { TRAIN_DEFAULTS, TRAIN_FIELDS, resolveTrainConfig, type TrainConfig } from './train/config.js';
export { trainingObjectiveOf, TRAINING_OBJECTIVE_KINDS, type TrainingObjective, type TrainingObjectiveKind } from './diffusion/training_objective.js';
export { readSamplingConfig, writeSamplingConfig, resolveSampling, SAMPLING_CONFIG_FIELDS, type SamplingConfig } from './io/sampling_config.js';
export { intField, numberField, boolField, stringField, enumField, arrayField, nullable, optional, described, type Field, type FieldSet, type ValuesOf } from './schema/field.js';
export { parseConfig, configToJson } from './schema/config.js';
export { parseFlags, formatFlagHelp } from './schema/flags.js';
export { resolveModelDir, latestCheckpoint, RunFolderError } from './io/model_folder.js';
export { DiskFullError, FileWriteError } from './io/file_ops.js';
export { superresObjective, SUPERRES_FILE, type SuperresInfo } from './train/objectives/superres.js';
export { trainClassifier, CLASSIFIER_TRAIN_DEFAULTS, type ClassifierTrainConfig, type ClassifierMetrics } from './train/classifier_trainer.js';

// Sample-quality evaluation (diffuse eval, train-feature-net).
export { FeatureNet, DEFAULT_FEATURE_NET_CONFIG, type FeatureNetConfig } from './eval/feature_net.js';
export { softmaxCrossEntropy, argmaxRows } from './eval/cross_entropy.js';
export { trainFeatureNet, type TrainFeatureNetOptions, type TrainFeatureNetResult } from './eval/train_feature_net.js';
export { labelledFromDataset, classBalancedIndices, randomSubset, type LabelledImages } from './eval/labelled_images.js';
export { symmetricEigen, sqrtmPsd, fitGaussian, type SymmetricEigen, type Gaussian } from './eval/linalg.js';
export { frechetDistance, frechetDistanceGaussians } from './eval/frechet.js';
export { kernelInceptionDistance, mmd2Unbiased, KID_SUBSETS, KID_SUBSET_SIZE, type KidOptions, type KidResult } from './eval/kid.js';
export { precisionRecall, PR_NEIGHBOURS, type PrecisionRecall } from './eval/precision_recall.js';
export { memorization, nearestDistances, quantile, MEMORIZATION_QUANTILE, type MemorizationResult } from './eval/memorization.js';
export { classifierAccuracy, accuracyOf, type AccuracyResult } from './eval/accuracy.js';
export { classificationAccuracyScore, CAS_STEPS, type CasOptions } from './eval/cas.js';
export { gaussianBlur, addGaussianNoise } from './eval/degrade.js';
export { loadSampleFolder, classOfFolder, type SampleFolderSpec } from './eval/sample_folder.js';
export { evaluateSamples, type EvaluateOptions, type EvalCache, type EvalReport, type EvalStage, type DistributionFigures } from './eval/evaluate.js';
// The Node-style library surface: a model folder as one object, promise-returning pipelines on a
// worker thread (AbortSignal, onProgress), images as PNG bytes or files, the bundled models.
export { DiffusionPipeline, type ClassLabel, type PipelineCallOptions, type PipelineClassOptions, type PipelineGenerateOptions, type PipelineImg2ImgOptions, type PipelineInpaintOptions, type PipelineUpscaleOptions, type PipelineLoadOptions } from './pipelines/diffusion_pipeline.js';
export { GeneratedImages, GeneratedImage, type GenerationSettings } from './pipelines/generated_images.js';
export { generateAsync, inpaintAsync, img2imgAsync, upscaleAsync } from './pipelines/async.js';
export { AbortError } from './pipelines/abort_error.js';
export { bundledModels, bundledModelPath, isBundledModelName, BUNDLED_MODEL_NAMES, type BundledModelName } from './io/bundled_models.js';
export { modelClassNames, classIndex, classNamesOfData } from './io/model_class_names.js';
export { readClassNames, CLASS_NAMES_NAME } from './io/class_names.js';
export { SAMPLING_CONFIG_NAME, DEFAULT_SAMPLING_CONFIG, MAX_GUIDANCE, type SamplingFlags, type SamplingChoice } from './io/sampling_config.js';
export { createServer, startServer } from './server/entry.js';
export type { ServerOptions, DiffuseServer } from './server/app.js';
