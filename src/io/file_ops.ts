/**
 * The one layer every durable write goes through (atomic files, checkpoint and export folders,
 * pruning, metrics lines): open, write, fsync, rename, unlink, rmdir, mkdir. Each call is one
 * counted "file operation", so a test can stop the process at any one of them, and errors of a
 * full disk become a DiskFullError naming the path and the fix instead of a raw Node stack.
 *
 * The test hook (fault injection): the environment variable DIFFUSE_FAULT, read once at start.
 *   DIFFUSE_FAULT=kill@rename:3    SIGKILL this process just before its 3rd rename
 *   DIFFUSE_FAULT=enospc@write:5   make its 5th write fail with ENOSPC (half the bytes written)
 *   DIFFUSE_FAULT=log:FILE         perform every operation, appending "N KIND K PATH" to FILE
 *                                  (N counted over all kinds, K within KIND): the dry run that
 *                                  counts the operations of a save before killing at each one
 * KIND is open, write, fsync, rename, unlink, rmdir, mkdir or any; counts run over the whole
 * process, from 1 (enospc on unlink or rmdir does nothing: removing needs no space). Unset (the
 * normal case), each operation costs one null check.
 */
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  lstatSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { DiffuseError } from '../tensor/errors.js';

/** The kinds of counted file operations. */
export type FileOpKind = 'open' | 'write' | 'fsync' | 'rename' | 'unlink' | 'rmdir' | 'mkdir';

export const FILE_OP_KINDS: readonly FileOpKind[] = Object.freeze(['open', 'write', 'fsync', 'rename', 'unlink', 'rmdir', 'mkdir']);

/** The disk (or the user's quota) is full: the message names the path and the fix. */
export class DiskFullError extends DiffuseError {
  constructor(
    message: string,
    /** The file or folder whose operation failed. */
    readonly path: string,
  ) {
    super(message);
  }
}

/** A file operation failed for another reason (permissions, a read-only disk, I/O): names the path. */
export class FileWriteError extends DiffuseError {}

/** What DIFFUSE_FAULT asks for. */
export type FaultPlan =
  | { action: 'kill' | 'enospc'; kind: FileOpKind | 'any'; n: number }
  | { action: 'log'; file: string };

/** The name of the test hook's environment variable. */
export const FAULT_ENV = 'DIFFUSE_FAULT';

/** Parses a DIFFUSE_FAULT value (see the file header); throws a DiffuseError naming the value. */
export function parseFaultPlan(spec: string): FaultPlan {
  if (spec.startsWith('log:') && spec.length > 4) return { action: 'log', file: spec.slice(4) };
  const m = /^(kill|enospc)@([a-z]+):([1-9]\d*)$/.exec(spec);
  const kind = m?.[2];
  if (m === null || kind === undefined || !(kind === 'any' || (FILE_OP_KINDS as readonly string[]).includes(kind))) {
    throw new DiffuseError(
      `${FAULT_ENV}='${spec}' is not a fault plan; expected kill@KIND:N, enospc@KIND:N or log:FILE, KIND one of ${FILE_OP_KINDS.join(', ')}, any (unset it for normal runs)`,
    );
  }
  return { action: m[1] as 'kill' | 'enospc', kind: kind as FileOpKind | 'any', n: Number(m[3]) };
}

// Read at the first operation (not at import), so a bad value is an error the CLI prints plainly.
let plan: FaultPlan | null | undefined;
let total = 0;
const perKind = new Map<FileOpKind, number>();

/**
 * Replaces the fault plan of this process (null: none) and restarts the counts: for in-process
 * tests of ENOSPC and of the counts (a kill plan would kill the test runner itself).
 */
export function setFaultPlan(p: FaultPlan | string | null): void {
  plan = typeof p === 'string' ? parseFaultPlan(p) : p;
  total = 0;
  perKind.clear();
}

/** An ENOSPC error as the system raises it. */
function enospc(syscall: string, path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, ${syscall} '${path}'`);
  e.code = 'ENOSPC';
  e.syscall = syscall;
  e.path = path;
  return e;
}

/** Counts one operation; returns true when it is the one to fail with ENOSPC (kills never return). */
function faultPoint(kind: FileOpKind, path: string): boolean {
  if (plan === null) return false;
  if (plan === undefined) {
    const spec = process.env[FAULT_ENV];
    plan = spec === undefined || spec === '' ? null : parseFaultPlan(spec);
    if (plan === null) return false;
  }
  total++;
  const k = (perKind.get(kind) ?? 0) + 1;
  perKind.set(kind, k);
  if (plan.action === 'log') {
    appendFileSync(plan.file, `${total} ${kind} ${k} ${path}\n`);
    return false;
  }
  if ((plan.kind === 'any' ? total : plan.kind === kind ? k : -1) !== plan.n) return false;
  if (plan.action === 'kill') {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to oneself is delivered before the call returns; nothing below runs.
  }
  return true;
}

/** Turns a system error of `op` on `path` into a DiffuseError naming both; other errors pass. */
function explain(e: unknown, op: string, path: string): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DiskFullError(`${path}: the disk is full (${code} when trying to ${op}); free space on that disk (or write elsewhere) and run the command again`, path);
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'EIO') {
    return new FileWriteError(`${path}: cannot ${op} (${code}: ${(e as Error).message}); check the folder's permissions and that its disk is writable`, { cause: e });
  }
  return e;
}

/** Opens `path` for writing, created or truncated (op 'open'). */
export function openForWrite(path: string): number {
  const fail = faultPoint('open', path);
  try {
    if (fail) throw enospc('open', path);
    return openSync(path, 'w');
  } catch (e) {
    throw explain(e, 'create it', path);
  }
}

/** Writes every byte of `chunks` to `fd` (op 'write', one for all chunks). */
export function writeAll(fd: number, path: string, chunks: readonly Uint8Array[]): void {
  const fail = faultPoint('write', path);
  try {
    if (fail) {
      // A full disk takes part of the data first.
      const first = chunks[0];
      if (first !== undefined && first.length > 1) writeSync(fd, first, 0, first.length >> 1);
      throw enospc('write', path);
    }
    let parts = chunks.filter((c) => c.length > 0);
    while (parts.length > 0) {
      let n = writevSync(fd, parts);
      // A short write: drop what went out and continue with the rest.
      while (parts.length > 0 && n >= parts[0]!.length) n -= parts.shift()!.length;
      if (n > 0) parts[0] = parts[0]!.subarray(n);
    }
  } catch (e) {
    throw explain(e, 'write it', path);
  }
}

/** Flushes `fd`'s data to the disk (op 'fsync'). */
export function fsyncFile(fd: number, path: string): void {
  const fail = faultPoint('fsync', path);
  try {
    if (fail) throw enospc('fsync', path);
    fsyncSync(fd);
  } catch (e) {
    throw explain(e, 'flush it to disk', path);
  }
}

/** Flushes an existing file (e.g. one appended to) to the disk (op 'fsync'). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncFile(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** Closes `fd` (not counted: it changes nothing on disk). */
export function closeFile(fd: number): void {
  closeSync(fd);
}

/**
 * Flushes a folder's entries (new, renamed, removed names) to the disk, so that a rename inside it
 * survives a power cut (op 'fsync'). Platforms that cannot fsync folders are skipped silently.
 */
export function fsyncDir(dir: string): void {
  const fail = faultPoint('fsync', dir);
  if (fail) throw explain(enospc('fsync', dir), 'flush it to disk', dir);
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO') throw explain(e, 'flush it to disk', dir);
    // EISDIR/EINVAL/EPERM: this platform cannot fsync a folder; the rename itself is still atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Renames `from` to `to`, atomically (op 'rename'). */
export function renamePath(from: string, to: string): void {
  const fail = faultPoint('rename', to);
  try {
    if (fail) throw enospc('rename', to);
    renameSync(from, to);
  } catch (e) {
    throw explain(e, `rename ${from} to it`, to);
  }
}

/** Creates a folder and its missing parents (op 'mkdir'). */
export function makeDir(dir: string): void {
  const fail = faultPoint('mkdir', dir);
  try {
    if (fail) throw enospc('mkdir', dir);
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw explain(e, 'create the folder', dir);
  }
}

/** Removes a file; a missing one is fine (op 'unlink'). */
export function unlinkFile(path: string): void {
  faultPoint('unlink', path);
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw explain(e, 'remove it', path);
  }
}

/**
 * Removes a file or a folder tree, one file (op 'unlink') and one folder (op 'rmdir') at a time,
 * so a test can stop it half way; a missing path is fine.
 */
export function removeTree(path: string): void {
  let isDir: boolean;
  try {
    isDir = lstatSync(path).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw explain(e, 'remove it', path);
  }
  if (!isDir) {
    unlinkFile(path);
    return;
  }
  for (const name of readdirSync(path)) removeTree(join(path, name));
  faultPoint('rmdir', path);
  try {
    rmdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw explain(e, 'remove the folder', path);
  }
}

/** Appends `text` to `path` (created if missing; op 'write'): for line logs such as metrics.jsonl. */
export function appendText(path: string, text: string): void {
  const fail = faultPoint('write', path);
  try {
    if (fail) throw enospc('write', path);
    appendFileSync(path, text);
  } catch (e) {
    throw explain(e, 'append to it', path);
  }
}
