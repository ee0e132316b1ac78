/**
 * diffuse: diffusion models in TypeScript for Node.js. The package root exports the tensor
 * engine (tensors, autograd, ops, random generator, optimizers) and the layers built on it.
 */
export { Tensor, numel, type DType, type Storage } from './tensor/tensor.js';
export { tensor, zeros, ones, full, scalar, type TensorOptions } from './tensor/create.js';
export { noGrad, isGradEnabled } from './tensor/autograd.js';
export { Generator, rand, randn, type GeneratorState } from './tensor/random.js';
export { DiffuseError, ShapeError, DTypeError, ArgumentError, NativeLoadError, NativeKernelError } from './tensor/errors.js';
export { backend, useBackend, withBackend, type Backend, type BackendName } from './backend/backend.js';
export { engineInfo, setNumThreads, type EngineInfo } from './engine_info.js';
export * from './ops/index.js';
export { AdamW } from './nn/adamw.js';
export { EMA } from './nn/ema.js';
