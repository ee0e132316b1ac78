/**
 * Error types thrown by the engine. Every message names the op, the input, what was expected
 * and what was found, so the person who hit it can fix the call without reading our code.
 */

/** Base class of every error diffuse throws on purpose. */
export class DiffuseError extends Error {
  /** `options.cause`: the error this one reports (kept as `cause`, as ES2022 errors do). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A tensor's shape does not fit the op. */
export class ShapeError extends DiffuseError {}

/** A tensor's dtype does not fit the op or the backend. */
export class DTypeError extends DiffuseError {}

/** Tensors on different devices meet in one op, or a device cannot do what was asked of it. */
export class DeviceError extends DiffuseError {}

/** An argument has the wrong type (not a tensor, not a number, ...). */
export class ArgumentError extends DiffuseError {}

/**
 * A command line the `diffuse` CLI cannot run as written: an unknown command or flag, a flag
 * value outside what it allows, a missing required flag. The CLI exits 2 for it (1 for every
 * other error), the shell convention for usage errors.
 */
export class UsageError extends ArgumentError {}

/** The native addon is missing or failed to load. */
export class NativeLoadError extends DiffuseError {}

/**
 * A native kernel rejected its arguments or failed; the message comes from C++, `cause` is the
 * error the addon threw, and the stack is the JavaScript one of the call into the kernel.
 */
export class NativeKernelError extends DiffuseError {}

/** Formats a shape as `[2, 3, 4]` for messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
