/**
 * Atomic file writes: write a temporary file beside the target, flush it to disk, then rename
 * over the target. A crash or interruption leaves either the old file or the new one, never a
 * torn one (checkpoints must never be lost).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `chunks` to `path` atomically. */
export function writeFileAtomic(path: string, chunks: Uint8Array | readonly Uint8Array[]): void {
  const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    for (const part of parts) {
      let off = 0;
      while (off < part.length) off += writeSync(fd, part, off, part.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
