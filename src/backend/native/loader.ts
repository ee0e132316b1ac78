/**
 * Finds and loads the compiled addon (build/Release/diffuse_native.node, or the file named by
 * DIFFUSE_NATIVE). Loading is lazy: the first kernel call loads it, and if that fails every call
 * throws a NativeLoadError naming the files tried, what is wrong with each and the command that
 * fixes it. A file is checked before dlopen (elf_check.ts: a truncated one would SIGBUS) and its
 * exports after (another package's .node file loads but is not ours).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../io/package_root.js';
import { sharedObjectProblem } from './elf_check.js';
import { NativeKernelError, NativeLoadError, DTypeError } from '../../tensor/errors.js';
import type { Storage } from '../../tensor/tensor.js';

/** What `nativeInfo()` reports about the engine. */
export interface NativeInfo {
  dnnlVersion: string;
  isa: string;
  threads: number;
  napiVersion: number;
}

/** The raw addon: functions take Float32Arrays and plain numbers; families add theirs. */
export type NativeBinding = {
  nativeInfo(): NativeInfo;
  setNumThreads(n: number): void;
} & Record<string, (...args: never[]) => unknown>;

const FIX = 'apt-get install -y libdnnl-dev g++ make python3 && npm run build:native';

// packageRoot moved to io/model_folder.ts; re-exported for the callers that still import it here.

/** The largest thread count C++ takes (an `int`). */
const MAX_THREADS = 2 ** 31 - 1;

/**
 * DIFFUSE_THREADS, checked: the thread count for oneDNN and the native kernels, or null when it
 * is unset or empty (all cores). The addon reads the variable itself when it loads (C++ `atoi`,
 * which would silently ignore a bad value), so the loader checks it first and refuses to load.
 * Throws NativeLoadError naming the value found and what is expected.
 * @example threadsFromEnv({ DIFFUSE_THREADS: '4' }) // 4
 */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env['DIFFUSE_THREADS'];
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > MAX_THREADS) {
    throw new NativeLoadError(
      `DIFFUSE_THREADS must be an integer >= 1 (the threads for oneDNN and the native kernels), found '${raw}'. ` +
        `Fix: set it to a thread count (e.g. DIFFUSE_THREADS=4), or unset it to use all cores`,
    );
  }
  return n;
}

/** What is wrong with the file itself (unreadable, not ELF, another CPU, truncated), or null. */
function fileProblem(file: string): string | null {
  try {
    return sharedObjectProblem(file);
  } catch (e) {
    return `it cannot be read (${(e as Error).message})`;
  }
}

/**
 * Whether a loaded module is our addon: it must export nativeInfo() and setNumThreads(), and
 * nativeInfo() must describe oneDNN. Another package's .node file (sharp's, say) loads fine but
 * fails here, by name, instead of with a TypeError at the first kernel call.
 */
function exportsProblem(binding: unknown): string | null {
  const names = typeof binding === 'object' && binding !== null ? Object.keys(binding) : [];
  const shown = names.length === 0 ? 'nothing' : names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} in all)` : '');
  const foreign = `it is not diffuse's addon: it exports ${shown}, not nativeInfo() and setNumThreads() (another package's .node file in its place?)`;
  const b = binding as Partial<Record<'nativeInfo' | 'setNumThreads', unknown>> | null;
  if (typeof b?.nativeInfo !== 'function' || typeof b.setNumThreads !== 'function') return foreign;
  let info: unknown;
  try {
    info = (b.nativeInfo as () => unknown)();
  } catch (e) {
    return `its nativeInfo() failed (${(e as Error).message}): it is not diffuse's addon, or a broken build`;
  }
  const i = info as Partial<NativeInfo> | null;
  if (typeof i?.dnnlVersion !== 'string' || typeof i.threads !== 'number') return `${foreign.split(':')[0]}: its nativeInfo() returned ${JSON.stringify(info)}, not { dnnlVersion, isa, threads, napiVersion }`;
  return null;
}

let loaded: NativeBinding | null = null;
let failure: NativeLoadError | null = null;

/**
 * The addon, loading it on first use. Throws NativeLoadError if it cannot be loaded, or if
 * DIFFUSE_THREADS (read by the addon as it loads) is not a valid thread count.
 */
export function addon(): NativeBinding {
  if (loaded !== null) return loaded;
  if (failure !== null) throw failure;
  threadsFromEnv();
  const root = packageRoot();
  // DIFFUSE_NATIVE names the one file to load (a custom build; relative to the working folder);
  // otherwise node-gyp's outputs.
  const override = process.env['DIFFUSE_NATIVE'];
  const candidates = override
    ? [resolve(override)]
    : [join(root, 'build', 'Release', 'diffuse_native.node'), join(root, 'build', 'Debug', 'diffuse_native.node')];
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) {
      tried.push(`${file} (not found)`);
      continue;
    }
    // Checked before dlopen: a truncated file would kill the process with SIGBUS, not throw.
    const problem = fileProblem(file);
    if (problem !== null) {
      tried.push(`${file} (failed to load: ${problem})`);
      continue;
    }
    let binding: unknown;
    try {
      binding = require(file);
    } catch (e) {
      tried.push(`${file} (failed to load: ${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    const foreign = exportsProblem(binding);
    if (foreign !== null) {
      tried.push(`${file} (failed to load: ${foreign})`);
      continue;
    }
    loaded = binding as NativeBinding;
    return loaded;
  }
  failure = new NativeLoadError(
    `diffuse: the native addon could not be loaded. Looked for:\n  ${tried.join('\n  ')}\n` +
      `Fix: in ${root} run\n  ${FIX}` +
      (override ? `\nor point DIFFUSE_NATIVE at a working build of the addon, or unset it to use ${join(root, 'build', 'Release', 'diffuse_native.node')}` : ''),
  );
  throw failure;
}

/** Checks that a buffer can go to the native backend (float32 only). */
export function f32(op: string, name: string, a: Storage): Float32Array {
  if (!(a instanceof Float32Array)) {
    throw new DTypeError(`${op}: input '${name}' is float64, but the native backend runs float32 only (use the reference backend for float64)`);
  }
  return a;
}

/**
 * Calls into the addon, turning its errors into NativeKernelError: the C++ message, the addon's
 * error as `cause`, and a stack that starts at the caller of nativeCall (the kernel wrapper, then
 * the op and the user's code), so a failing kernel call is traced to the JavaScript that made it.
 */
export function nativeCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NativeKernelError || e instanceof NativeLoadError || e instanceof DTypeError) throw e;
    const err = new NativeKernelError(e instanceof Error ? e.message : String(e), { cause: e });
    Error.captureStackTrace(err, nativeCall);
    throw err;
  }
}

/** Typed access to one addon function. */
export function fn<F extends (...args: never[]) => unknown>(name: string): F {
  const f = addon()[name];
  if (typeof f !== 'function') {
    throw new NativeLoadError(`diffuse: the native addon has no function '${name}'; it is out of date. Fix: ${FIX}`);
  }
  return f as unknown as F;
}
