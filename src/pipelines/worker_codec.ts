/**
 * What crosses the thread boundary of the async pipelines (pipelines/async.ts and the worker,
 * pipelines/pipeline_worker.ts): tensors as { shape, dtype, data } host copies, the U-Net as its
 * config and weights, a scheduler instance as its class name and config, a sampler as its name, a
 * Generator as its state, and errors as their class name and message, rebuilt as the same
 * DiffuseError subclass on the other side. Everything else is plain data (structured clone).
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { Generator, type GeneratorState } from '../tensor/random.js';
import { ArgumentError, DeviceError, DiffuseError, DTypeError, NativeKernelError, NativeLoadError, ShapeError } from '../tensor/errors.js';
import { withoutInit } from '../nn/layers.js';
import { UNet2DModel, configFromJSON, configToJSON, ConfigError } from '../nn/unet_2d.js';
import { MemoryBudgetError } from '../nn/memory_budget.js';
import { StateDictError } from '../nn/module.js';
import { NonfiniteSampleError } from '../sampling/finite_check.js';
import { OdeSolverError } from '../sde/rk45.js';
import { AbortError } from './abort_error.js';

/** A tensor's host copy. */
export interface EncodedTensor {
  readonly kind: 'tensor';
  shape: number[];
  dtype: DType;
  data: Float32Array | Float64Array;
}

/** A U-Net: its config.json and its weights. */
export interface EncodedModel {
  readonly kind: 'unet';
  config: Record<string, unknown>;
  training: boolean;
  weights: [name: string, tensor: EncodedTensor][];
}

/** A Generator's state. */
export interface EncodedGenerator {
  readonly kind: 'generator';
  state: GeneratorState;
}

/** An error thrown on the other side. */
export interface EncodedError {
  name: string;
  message: string;
  /** Whether it was a DiffuseError (a subclass of it where `name` is not one rebuilt by name). */
  diffuse: boolean;
  stack?: string | undefined;
}

/** A tensor as a host copy in its own dtype. */
export function encodeTensor(t: Tensor): EncodedTensor {
  return { kind: 'tensor', shape: [...t.shape], dtype: t.dtype, data: t.toArray(t.dtype) as Float32Array | Float64Array };
}

/** The tensor back. */
export function decodeTensor(e: EncodedTensor): Tensor {
  return tensor(e.data, e.shape, { dtype: e.dtype });
}

/** A U-Net as config and weights (copies: the caller may change its model meanwhile). */
export function encodeModel(model: UNet2DModel): EncodedModel {
  const weights: [string, EncodedTensor][] = [];
  for (const [name, t] of model.stateDict()) weights.push([name, encodeTensor(t)]);
  return { kind: 'unet', config: configToJSON(model.config), training: model.training, weights };
}

/** The U-Net back, in the mode it was in. */
export function decodeModel(e: EncodedModel): UNet2DModel {
  const model = withoutInit(() => new UNet2DModel(configFromJSON(e.config)));
  model.loadStateDict(new Map(e.weights.map(([name, t]) => [name, decodeTensor(t)])), { strict: true });
  return model.train(e.training);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function isEncoded(v: unknown, kind: string): boolean {
  return isPlainObject(v) && v['kind'] === kind;
}

/**
 * A value with every Tensor (at any depth of plain objects and arrays) and Generator replaced by
 * its encoding; typed arrays and other plain data pass as they are.
 * @example postMessage(encodeValue({ images, classLabels }));
 */
export function encodeValue(v: unknown): unknown {
  if (v instanceof Tensor) return encodeTensor(v);
  if (v instanceof Generator) return { kind: 'generator', state: v.getState() } satisfies EncodedGenerator;
  if (Array.isArray(v)) return v.map(encodeValue);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeValue(x)]));
  return v;
}

/** encodeValue's inverse. */
export function decodeValue(v: unknown): unknown {
  if (isEncoded(v, 'tensor')) return decodeTensor(v as EncodedTensor);
  if (isEncoded(v, 'generator')) return Generator.fromState((v as EncodedGenerator).state);
  if (Array.isArray(v)) return v.map(decodeValue);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeValue(x)]));
  return v;
}

/** The error classes rebuilt by name (others become a DiffuseError of the same name). */
const ERRORS: Readonly<Record<string, new (message: string, options?: ErrorOptions) => DiffuseError>> = {
  DiffuseError, ShapeError, DTypeError, DeviceError, ArgumentError, NativeLoadError, NativeKernelError,
  ConfigError, MemoryBudgetError, StateDictError, NonfiniteSampleError, OdeSolverError, AbortError,
};

/** An error for posting. */
export function encodeError(e: unknown): EncodedError {
  if (e instanceof Error) return { name: e.name, message: e.message, diffuse: e instanceof DiffuseError, stack: e.stack };
  return { name: 'Error', message: String(e), diffuse: false };
}

/**
 * The error back: the same DiffuseError subclass where it is one of ours, with the message (and
 * the worker's stack below the caller's); a non-diffuse error (a bug) becomes a plain Error.
 */
export function decodeError(e: EncodedError): Error {
  const Cls = ERRORS[e.name];
  const err = Cls !== undefined ? new Cls(e.message) : e.diffuse ? new DiffuseError(e.message) : new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = `${err.stack ?? ''}\n    --- in the pipeline's worker thread ---\n${e.stack}`;
  return err;
}
