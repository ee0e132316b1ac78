/** What the engine runs on: versions, oneDNN's ISA and the thread count (`diffuse info`). */
import { addon } from './backend/native/loader.js';
import { packageVersion } from './io/package_root.js';

export interface EngineInfo {
  version: string;
  node: string;
  napi: number;
  dnnlVersion: string;
  /** The instruction set oneDNN's kernels dispatch to on this CPU. */
  isa: string;
  threads: number;
  platform: string;
}

export function engineInfo(): EngineInfo {
  const native = addon().nativeInfo();
  return {
    version: packageVersion(),
    node: process.version,
    napi: native.napiVersion,
    dnnlVersion: native.dnnlVersion,
    isa: native.isa,
    threads: native.threads,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Sets the thread count of oneDNN and the native kernels for this process. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, found ${n}`);
  addon().setNumThreads(n);
}
