/**
 * The seeded random generator: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011), the counter-based generator of PyTorch, JAX and cuRAND.
 * A generator is a 64-bit seed (the Philox key) and a 64-bit counter offset. A draw of n values
 * uses counters offset .. offset + ceil(n/4) - 1 (four 32-bit words each) and then advances the
 * offset past them, so values never depend on the thread count or backend, and saving
 * { seed, offset } reproduces every later draw exactly.
 */
import { Tensor, type DType } from './tensor.js';
import { emptyUninit } from './create.js';
import { ArgumentError } from './errors.js';
import { cpu } from '../backend/cpu.js';
import { resolveDevice, type Device, type DeviceBuffer } from '../backend/device.js';
import type { Kernels } from '../backend/backend.js';
import type { U64Halves } from '../backend/kernels/random.js';

/** A generator's position, JSON-safe: both numbers as decimal strings of unsigned 64-bit integers. */
export interface GeneratorState {
  seed: string;
  offset: string;
}

/** Options of a draw. */
export interface DrawOptions {
  /** float32 (default) or float64 (gradient checks; the same draws, kept in double). */
  dtype?: DType;
  /** Where the values are drawn (default 'cpu'): the device's kernels make them there. */
  device?: Device | string;
}

const U64_MAX = (1n << 64n) - 1n;

function halves(v: bigint): U64Halves {
  return { lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) };
}

/** Parses a seed or offset (number, bigint or decimal string) into [0, 2^64), naming `what` on failure. */
function toU64(op: string, what: string, v: unknown, allowString: boolean): bigint {
  let b: bigint | null = null;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (allowString && typeof v === 'string' && /^[0-9]+$/.test(v)) b = BigInt(v);
  if (b === null || b < 0n || b > U64_MAX) {
    const found = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
    const forms = allowString ? 'a safe-integer number, a bigint or a decimal string' : 'a safe-integer number or a bigint';
    throw new ArgumentError(`${op}: ${what} must be an integer in [0, 2^64) (${forms}), found ${found}`);
  }
  return b;
}

function checkShape(op: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
    throw new ArgumentError(`${op}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
  }
}

/** The output of a draw: every element is written by the kernel. */
function drawBuffer(op: string, shape: readonly number[], options: DrawOptions): Tensor {
  return emptyUninit(shape, options.dtype ?? 'float32', resolveDevice(op, options.device, cpu));
}

/**
 * A seeded Philox4x32-10 generator.
 * @example
 * const gen = new Generator(42);
 * const noise = gen.normal([4, 28, 28, 1]); // (N, H, W, C)
 * const saved = gen.getState();              // store in a checkpoint
 * const again = Generator.fromState(saved);  // continues with the same next draws
 */
export class Generator {
  #seed: bigint;
  #offset: bigint;

  constructor(seed: number | bigint) {
    this.#seed = toU64('Generator', 'seed', seed, false);
    this.#offset = 0n;
  }

  /** The seed (the Philox key). */
  get seed(): bigint {
    return this.#seed;
  }

  /** The next unused counter. */
  get offset(): bigint {
    return this.#offset;
  }

  /**
   * Runs `kernel` on the counters of a draw into `out`, then advances the offset past them
   * (only once the kernel succeeded, so a rejected draw consumes nothing).
   */
  #draw(out: Tensor, kernel: (k: Kernels<DeviceBuffer>, data: DeviceBuffer, key: U64Halves, offset: U64Halves) => void): Tensor {
    const start = this.#offset;
    if (out.size > 0) kernel(out.device.kernels, out.storage, halves(this.#seed), halves(start));
    // Counters wrap modulo 2^64, as Philox's counter space does.
    this.#offset = (start + BigInt(Math.ceil(out.size / 4))) & U64_MAX;
    return out;
  }

  /**
   * Uniform values in [0, 1) (24 random bits each, exact in float32).
   * @example const u = gen.uniform([2, 3]);
   */
  uniform(shape: readonly number[], options: DrawOptions = {}): Tensor {
    checkShape('uniform', shape);
    return this.#draw(drawBuffer('uniform', shape, options), (k, data, key, offset) => k.philoxUniform(data, key, offset));
  }

  /**
   * Normal values mean + std * z, z ~ N(0, 1) by Box-Muller in double precision.
   * @example const eps = gen.normal([8, 32, 32, 3]);
   */
  normal(shape: readonly number[], mean = 0, std = 1, options: DrawOptions = {}): Tensor {
    checkShape('normal', shape);
    if (typeof mean !== 'number' || !Number.isFinite(mean)) {
      throw new ArgumentError(`normal: 'mean' must be a finite number, found ${String(mean)}`);
    }
    if (typeof std !== 'number' || !Number.isFinite(std) || std < 0) {
      throw new ArgumentError(`normal: 'std' must be a finite number >= 0, found ${String(std)}`);
    }
    return this.#draw(drawBuffer('normal', shape, options), (k, data, key, offset) => k.philoxNormal(data, key, offset, mean, std));
  }

  /** The position to save (JSON-safe). */
  getState(): GeneratorState {
    return { seed: this.#seed.toString(), offset: this.#offset.toString() };
  }

  /** Restores a position saved by getState(); the next draws repeat the ones that followed it. */
  setState(state: GeneratorState): void {
    if (state === null || typeof state !== 'object') {
      throw new ArgumentError(`Generator.setState: state must be an object { seed, offset }, found ${state === null ? 'null' : typeof state}`);
    }
    const seed = toU64('Generator.setState', "state 'seed'", state.seed, true);
    const offset = toU64('Generator.setState', "state 'offset'", state.offset, true);
    this.#seed = seed;
    this.#offset = offset;
  }

  /** A generator positioned at a saved state. */
  static fromState(state: GeneratorState): Generator {
    const g = new Generator(0);
    g.setState(state);
    return g;
  }
}

/** Uniform [0, 1) float32 values from `gen`. @example const u = rand([4], gen); */
export function rand(shape: readonly number[], gen: Generator): Tensor {
  if (!(gen instanceof Generator)) throw new ArgumentError(`rand: 'gen' must be a Generator, found ${typeof gen}`);
  return gen.uniform(shape);
}

/** Standard normal float32 values from `gen`. @example const x = randn([1, 28, 28, 1], gen); */
export function randn(shape: readonly number[], gen: Generator): Tensor {
  if (!(gen instanceof Generator)) throw new ArgumentError(`randn: 'gen' must be a Generator, found ${typeof gen}`);
  return gen.normal(shape);
}
