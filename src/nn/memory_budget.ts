/**
 * The memory budget: how many bytes a model may take (its parameters, and with training their
 * gradients, Adam moments and EMA copy, plus the activations of a batch), checked against an
 * estimate BEFORE anything is allocated, so a config asking for terabytes is an error naming the
 * estimate, the budget and the fix instead of an out-of-memory kill minutes later.
 *
 * The budget is process-wide (like the thread count): `setMaxMemory(bytes)`, which the CLI's
 * `--max-memory SIZE` sets; by default DEFAULT_MEMORY_FRACTION of the machine's memory.
 */
import { totalmem } from 'node:os';
import { ArgumentError, DiffuseError } from '../tensor/errors.js';

/** The default budget, as a fraction of os.totalmem(): room for the OS and the rest of the process. */
export const DEFAULT_MEMORY_FRACTION = 0.8;

/** A model or batch whose estimated memory exceeds the budget (raised before allocating). */
export class MemoryBudgetError extends DiffuseError {}

let budget: number | null = null;

/** The default budget: DEFAULT_MEMORY_FRACTION of the machine's memory, in bytes. */
export function defaultMaxMemory(): number {
  return Math.floor(totalmem() * DEFAULT_MEMORY_FRACTION);
}

/**
 * Sets the process-wide memory budget in bytes (null: back to the default).
 * @example setMaxMemory(parseByteSize('8G'));
 */
export function setMaxMemory(bytes: number | null): void {
  if (bytes !== null && (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1)) {
    throw new ArgumentError(`setMaxMemory: expected a positive integer number of bytes or null, found ${String(bytes)}`);
  }
  budget = bytes;
}

/** The budget in bytes: the one set by setMaxMemory, else the default. */
export function maxMemory(): number {
  return budget ?? defaultMaxMemory();
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 2 ** 10, kb: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gb: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tb: 2 ** 40, tib: 2 ** 40 };

/**
 * A size in bytes from text: a number with an optional unit K, M, G or T (powers of 1024; KB/KiB,
 * MB/MiB, ... the same), or undefined when the text is not one.
 * @example parseByteSize('8G') // 8589934592
 * @example parseByteSize('1.5GiB') // 1610612736
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (m === null) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : undefined;
}

/** Bytes for a person: 1.5 GiB, 300 MiB, 12 KiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** An estimate to check: its total and the parts that make it, for the message. */
export interface MemoryNeed {
  /** What needs the memory ('models/x/unet: the U-Net's parameters', 'train: batch 128 at 28x28'). */
  what: string;
  bytes: number;
  /** The parts ('parameters 1.6M x 4 B x 5 = 32 MiB', ...). */
  parts: readonly string[];
  /** How to need less ('use a smaller --batch'). */
  fix: string;
}

/**
 * Throws a MemoryBudgetError when `need.bytes` exceeds the budget, naming the estimate, its parts,
 * the budget and the fixes (need less, or raise the budget with --max-memory).
 * @example checkMemoryBudget({ what: 'sample', bytes: 3e9, parts: [], fix: 'use a smaller --batch' });
 */
export function checkMemoryBudget(need: MemoryNeed, limit: number = maxMemory()): void {
  if (!(need.bytes > limit)) return;
  const source = budget === null ? `the default budget, ${Math.round(DEFAULT_MEMORY_FRACTION * 100)}% of this machine's ${formatBytes(totalmem())}` : 'the budget set by --max-memory';
  throw new MemoryBudgetError(
    `${need.what} would need about ${formatBytes(need.bytes)} of memory (${need.parts.join(' + ')}), more than ${formatBytes(limit)} (${source}); ${need.fix}, or raise the budget with --max-memory SIZE (e.g. --max-memory 64G) if the machine really has the memory`,
  );
}
