/**
 * The Module base class, as torch.nn.Module: a tree of layers whose parameters carry PyTorch's
 * dotted names (`down_blocks.0.resnets.1.conv1.weight`), so a diffusers state dict maps onto it
 * one to one. Parameters live in a registry (not in fields) so a model can be cast to float64
 * for gradient checks and loaded in place; layers read them with `this.param(name)` at forward time.
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { cast, copyInto } from '../ops/copy.js';
import type { Device } from '../backend/device.js';

/** Host values with a shape, e.g. a safetensors entry. */
export interface HostValues {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/** What loadStateDict accepts per key: a Tensor or host values { shape, data }. */
export type TensorLike = Tensor | HostValues;

function tensorLikeSize(v: TensorLike): number {
  return v instanceof Tensor ? v.size : v.data.length;
}

/** A state dict: parameter name -> values. */
export type StateDict = ReadonlyMap<string, TensorLike> | Readonly<Record<string, TensorLike>>;

export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true); shape mismatches always fail. */
  strict?: boolean;
}

/** What loadStateDict did not match (both empty under strict). */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** A state dict does not fit the module: the message lists every offending key. */
export class StateDictError extends ShapeError {}

/** Lists names for an error message, at most `max`, then "... and N more". */
export function listKeys(keys: readonly string[], max = 20): string {
  const shown = keys.slice(0, max).join(', ');
  return keys.length > max ? `${shown}, ... and ${keys.length - max} more` : shown;
}

/**
 * Base class of every layer. Subclasses register parameters and children in PyTorch's order
 * (that order is `namedParameters()`'s order, which optimizer states and EMA lists follow).
 * @example
 * class Scale extends Module {
 *   constructor() { super(); this.registerParameter('weight', ones([1])); }
 *   forward(x: Tensor): Tensor { return mul(x, this.param('weight')); }
 * }
 */
export abstract class Module {
  /** Training mode (dropout active) or evaluation mode, as torch's `training`. Default true. */
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Adds a parameter (a leaf that requires gradients) under `name`; returns it. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    if (this.#params.has(name) || this.#children.has(name)) throw new ArgumentError(`${this.constructor.name}: '${name}' is already registered`);
    t.requiresGrad = true;
    this.#params.set(name, t);
    return t;
  }

  /** Adds a child module under `name` (its parameters get the prefix `name.`); returns it. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    if (this.#params.has(name) || this.#children.has(name)) throw new ArgumentError(`${this.constructor.name}: '${name}' is already registered`);
    this.#children.set(name, m);
    return m;
  }

  /** This module's own parameter `name` (the current tensor: casts and loads may replace it). */
  protected param(name: string): Tensor {
    const t = this.#params.get(name);
    if (t === undefined) throw new ArgumentError(`${this.constructor.name}: no parameter '${name}'`);
    return t;
  }

  /** Whether this module owns a parameter `name`. */
  protected hasParam(name: string): boolean {
    return this.#params.has(name);
  }

  /** The direct children, in registration order. */
  children(): [string, Module][] {
    return [...this.#children.entries()];
  }

  /** This module and every descendant with its dotted name ('' for this one), depth first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) out.push(...child.namedModules(prefix === '' ? name : `${prefix}.${name}`));
    return out;
  }

  /** Every parameter with its PyTorch dotted name, in torch's order (own first, then children). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.#params) out.push([prefix === '' ? name : `${prefix}.${name}`, t]);
    for (const [name, child] of this.#children) out.push(...child.namedParameters(prefix === '' ? name : `${prefix}.${name}`));
    return out;
  }

  /** Every parameter, in namedParameters() order (hand these to AdamW / EMA). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /**
   * The parameters by name, in our layout (conv weights OHWI). The tensors SHARE the parameters'
   * buffers (no copy, no graph): copy them before changing the model if you need a snapshot.
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([name, t]) => [name, t.detach()]));
  }

  /**
   * Copies values into the parameters, in place (dtype converted). Keys are checked first, so a
   * failed load changes nothing: missing or unexpected keys (under `strict`) and any shape
   * mismatch throw a StateDictError listing every offending key.
   * @example model.loadStateDict(other.stateDict());
   */
  loadStateDict(state: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const entries: [string, TensorLike][] = state instanceof Map ? [...state.entries()] : Object.entries(state);
    const given = new Map(entries);
    const own = new Map(this.namedParameters());
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [name, p] of own) {
      const v = given.get(name);
      if (v === undefined) continue;
      const shape = v.shape;
      const sameShape = Array.isArray(shape) && shape.length === p.rank && shape.every((d, i) => d === p.shape[i]);
      if (!sameShape || tensorLikeSize(v) !== p.size) mismatched.push(`${name} (expected ${fmtShape(p.shape)}, found ${Array.isArray(shape) ? fmtShape(shape) : String(shape)})`);
    }
    const problems: string[] = [];
    if (strict && missingKeys.length > 0) problems.push(`missing keys (${missingKeys.length}): ${listKeys(missingKeys)}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected keys (${unexpectedKeys.length}): ${listKeys(unexpectedKeys)}`);
    if (mismatched.length > 0) problems.push(`shape mismatches (${mismatched.length}): ${listKeys(mismatched)}`);
    if (problems.length > 0) {
      throw new StateDictError(`${this.constructor.name}.loadStateDict: the state dict does not fit the model: ${problems.join('; ')}`);
    }
    for (const [name, p] of own) {
      const v = given.get(name);
      if (v !== undefined) copyInto(p, v instanceof Tensor ? v.to(p.device) : tensor(v.data, p.shape, { dtype: p.dtype, device: p.device }));
    }
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Replaces the parameter at dotted `name` by `t` (same shape), keeping t's requiresGrad: for
   * gradient checks that perturb parameters, or swapping in other weights without a copy.
   */
  setParameter(name: string, t: Tensor): void {
    const dot = name.lastIndexOf('.');
    const owner = dot < 0 ? this : this.namedModules().find(([n]) => n === name.slice(0, dot))?.[1];
    const key = name.slice(dot + 1);
    const old = owner === undefined ? undefined : owner.#params.get(key);
    if (owner === undefined || old === undefined) throw new ArgumentError(`${this.constructor.name}.setParameter: no parameter '${name}'`);
    if (!(t instanceof Tensor) || t.rank !== old.rank || t.shape.some((d, i) => d !== old.shape[i])) {
      throw new ShapeError(`${this.constructor.name}.setParameter: '${name}' has shape ${fmtShape(old.shape)}, found ${t instanceof Tensor ? fmtShape(t.shape) : typeof t}`);
    }
    owner.#params.set(key, t);
  }

  /**
   * Casts every parameter to `dtype` ('float32' | 'float64': float64 for gradient checks), or
   * moves every parameter to a device (a Device or a registered name such as 'cpu'). Replaces
   * the parameter tensors: lists from parameters() taken before are stale.
   * @example model.to('float64'); model.to(webgpu);
   */
  to(target: DType | Device | string): this {
    const dtype = target === 'float32' || target === 'float64' ? target : null;
    for (const [, m] of this.namedModules()) {
      for (const [name, t] of m.#params) {
        const moved = dtype !== null ? (t.dtype === dtype ? t : cast(t, dtype)) : t.to(target as Device | string);
        if (moved === t) continue;
        moved.requiresGrad = t.requiresGrad;
        m.#params.set(name, moved);
      }
    }
    return this;
  }

  /** Sets training mode (true) or evaluation mode (false) on this module and all descendants. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: dropout off. Same as train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Sets requiresGrad on every parameter (false freezes the model). */
  requiresGrad(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }
}

/** An indexed list of modules; children are named '0', '1', ... as torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(items: readonly M[] = []) {
    super();
    for (const m of items) this.push(m);
  }

  /** Appends `m` under the next index. */
  push(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  /** The i-th module; throws on a bad index. */
  at(i: number): M {
    const m = this.items[i];
    if (m === undefined) throw new RangeError(`ModuleList: index ${i} is out of range (length ${this.items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
