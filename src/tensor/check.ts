/**
 * Argument validation shared by all ops. Messages name the op, the input, what was
 * expected and what was found.
 */
import { Tensor, type DType } from './tensor.js';
import { ArgumentError, DTypeError, DeviceError, ShapeError, fmtShape } from './errors.js';
import type { Device } from '../backend/device.js';

/** Throws unless `v` is a Tensor. */
export function expectTensor(op: string, name: string, v: unknown): asserts v is Tensor {
  if (!(v instanceof Tensor)) {
    const found = v === null ? 'null' : Array.isArray(v) ? 'an Array' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
    throw new ArgumentError(`${op}: input '${name}' must be a Tensor, found ${found}`);
  }
}

/** Throws unless `t` has rank `rank`. `layout` names the axes, e.g. '(N, H, W, C)'. */
export function expectRank(op: string, name: string, t: Tensor, rank: number, layout = ''): void {
  if (t.rank !== rank) {
    throw new ShapeError(`${op}: input '${name}' must have rank ${rank}${layout ? ` ${layout}` : ''}, found shape ${fmtShape(t.shape)}`);
  }
}

/** Throws unless `t.shape` equals `expected`. */
export function expectShape(op: string, name: string, t: Tensor, expected: readonly number[]): void {
  if (t.rank !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${op}: input '${name}' has shape ${fmtShape(t.shape)}, expected ${fmtShape(expected)}`);
  }
}

/** Throws unless all tensors share one dtype; returns it. */
export function sameDType(op: string, named: Record<string, Tensor>): DType {
  let first: [string, DType] | null = null;
  for (const [name, t] of Object.entries(named)) {
    if (first === null) first = [name, t.dtype];
    else if (t.dtype !== first[1]) {
      throw new DTypeError(`${op}: input '${name}' is ${t.dtype} but '${first[0]}' is ${first[1]}; inputs must share one dtype`);
    }
  }
  return first?.[1] ?? 'float32';
}

/**
 * Throws unless all tensors are on one device; returns it (the device whose kernels the op runs).
 * @example const device = sameDevice('add', { a, b });
 */
export function sameDevice(op: string, named: Record<string, Tensor>): Device {
  let firstName = '';
  let device: Device | null = null;
  for (const name in named) {
    const d = named[name]!.device;
    if (device === null) {
      device = d;
      firstName = name;
    } else if (d !== device) {
      const all = Object.entries(named).map(([k, t]) => `'${k}' on ${t.device.name}`).join(', ');
      throw new DeviceError(
        `${op}: inputs are on different devices (${all}); ` +
          `'${name}' is on ${d.name} but '${firstName}' is on ${device.name}; move them to one device first, e.g. ${name}.to('${device.name}')`,
      );
    }
  }
  if (device === null) throw new ArgumentError(`${op}: no input tensors`);
  return device;
}

/** Throws unless `v` is a finite number (or an integer if `integer`). */
export function expectNumber(op: string, name: string, v: unknown, integer = false): asserts v is number {
  if (typeof v !== 'number' || (integer ? !Number.isInteger(v) : Number.isNaN(v))) {
    throw new ArgumentError(`${op}: '${name}' must be ${integer ? 'an integer' : 'a number'}, found ${typeof v === 'number' ? v : typeof v}`);
  }
}
