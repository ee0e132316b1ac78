/**
 * Atomic, durable writes of files and folders, and the clean-up after writers that died.
 *
 * A file is written to a temporary sibling `.NAME.PID.TIME.tmp`, flushed (fsync), renamed over
 * NAME, and the folder flushed, so a kill or a power cut leaves the old file or the new one,
 * never a torn one. A folder is filled as `.tmp-NAME-PID-TIME`, every file and folder in it
 * flushed, then renamed to NAME (an existing NAME is first moved to `.old-NAME-PID-TIME`, removed
 * after); folders are deleted by renaming them to `.trash-NAME-PID-TIME` first, so no reader
 * ever sees half of one. Every operation goes through io/file_ops.ts (counted, fault-injectable).
 *
 * A writer killed half way leaves such hidden names behind; cleanStaleTemps removes those of
 * writers that are no longer running (the PID in the name), and puts back a folder that a kill
 * between the two renames of a replacement left only under its `.old-` name (a `.tmp-` folder
 * was never committed and is removed).
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { closeFile, fsyncDir, fsyncFile, makeDir, openForWrite, removeTree, renamePath, unlinkFile, writeAll } from './file_ops.js';

/** Folders being filled by writeDirAtomic: files in them skip the per-file folder flush (the whole tree is flushed once). */
const filling = new Set<string>();

/** The suffix of temporary folder names: PID and time (the PID tells the cleaner whether the writer still runs). */
const stamp = (): string => `${process.pid}-${Date.now()}`;

/** `.NAME.PID.TIME.tmp`: a file being written (PID and TIME are the last two fields). */
const FILE_TEMP = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;
/** `.tmp-NAME-PID-TIME` (being filled), `.old-NAME-PID-TIME` (being replaced), `.trash-NAME-PID-TIME` (being deleted). */
const DIR_TEMP = /^\.(tmp|old|trash)-(.+)-(\d+)-(\d+)$/;

/** Whether the process `pid` still runs (EPERM: it runs as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A temporary name is stale when its writer no longer runs. Ours are never stale: another thread
 * of this process (a server's workers) may be writing it, and our own failures clean up at once.
 */
function stale(pid: number): boolean {
  return pid !== process.pid && !alive(pid);
}

const insideFilling = (dir: string): boolean => {
  const d = resolve(dir);
  for (const f of filling) if (d === f || d.startsWith(`${f}/`)) return true;
  return false;
};

/**
 * Writes `chunks` to `path` atomically and durably (see the file header).
 * @example writeFileAtomic('runs/fm/latest.json', Buffer.from('{}'));
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | readonly Uint8Array[]): void {
  const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openForWrite(tmp);
    try {
      writeAll(fd, tmp, parts);
      fsyncFile(fd, tmp);
    } finally {
      closeFile(fd);
    }
    renamePath(tmp, path);
  } catch (e) {
    try {
      unlinkFile(tmp);
    } catch {
      // The original error is the one to report; the cleaner removes the temp later.
    }
    throw e;
  } finally {
  }
  if (!insideFilling(dir)) fsyncDir(dir);
}

/** Flushes every folder of a tree, deepest first (their files were flushed when written). */
function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) fsyncTree(p);
  }
  fsyncDir(dir);
}

/** Options of writeDirAtomic. */
export interface WriteDirOptions {
  /** Whether a folder is complete (e.g. holds its last-written file): an incomplete target gives way to a complete `.old-` copy. */
  isComplete?: (dir: string) => boolean;
}

/**
 * Writes a folder atomically: `fill(tmp)` writes into a temporary sibling, which is flushed to
 * disk and renamed to `dir` (an existing `dir` is moved aside first and removed after). Stale
 * temporary folders of dead writes beside `dir` are cleaned first. A failure removes the
 * temporary folder and leaves `dir` as it was.
 * @example writeDirAtomic('runs/fm/model', (tmp) => writeJSONAtomic(join(tmp, 'model_index.json'), index));
 */
export function writeDirAtomic(dir: string, fill: (tmp: string) => void, options: WriteDirOptions = {}): void {
  const parent = resolve(dir, '..');
  if (!existsSync(parent)) makeDir(parent);
  const base = basename(resolve(dir));
  cleanStaleTemps(parent, { only: base, ...options });
  const tmp = join(parent, `.tmp-${base}-${stamp()}`);
  filling.add(tmp);
  try {
    makeDir(tmp);
    fill(tmp);
    fsyncTree(tmp);
  } catch (e) {
    filling.delete(tmp);
    try {
      removeTree(tmp);
    } catch {
      // Reported by the original error; the cleaner removes it on the next write.
    }
    throw e;
  }
  filling.delete(tmp);
  let old: string | null = null;
  try {
    if (existsSync(dir)) {
      old = join(parent, `.old-${base}-${stamp()}`);
      renamePath(dir, old);
    }
    renamePath(tmp, dir);
  } catch (e) {
    // Put the old folder back and drop the new one: `dir` stays as it was.
    try {
      if (old !== null && !existsSync(dir)) renamePath(old, dir);
      removeTree(tmp);
    } catch {
      // The cleaner puts `.old-` back and removes `.tmp-` after this process.
    }
    throw e;
  }
  fsyncDir(parent);
  if (old !== null) removeTree(old);
}

/**
 * Moves a folder out of sight (to `.trash-NAME-PID-TIME`) and then deletes it, so a kill half way
 * leaves a hidden folder for the cleaner, never a half-deleted NAME.
 */
export function removeDirAtomic(dir: string): void {
  if (!existsSync(dir)) return;
  const trash = join(resolve(dir, '..'), `.trash-${basename(resolve(dir))}-${stamp()}`);
  renamePath(dir, trash);
  removeTree(trash);
}

/** What cleanStaleTemps did. */
export interface CleanReport {
  /** Folders put back under their own name (from `.old-`/`.tmp-`), as "from -> to". */
  restored: string[];
  /** Temporary files and folders removed. */
  removed: string[];
}

/** Options of cleanStaleTemps. */
export interface CleanOptions extends WriteDirOptions {
  /** Only the temporaries of this name. */
  only?: string;
}

/**
 * Cleans the leftovers of dead writers in `dir` (not recursive): temporary files
 * `.NAME.PID.TIME.tmp`, folders `.tmp-`/`.old-`/`.trash-NAME-PID-TIME` whose PID no longer runs.
 * Where NAME itself is missing, its newest complete `.tmp-` (when `isComplete` says so) or else
 * its `.old-` folder is renamed back to NAME first: a kill between the two renames of a folder
 * replacement leaves NAME only there.
 * @example cleanStaleTemps('runs/fm/checkpoints', { isComplete: (d) => existsSync(join(d, 'trainer_state.json')) });
 */
export function cleanStaleTemps(dir: string, options: CleanOptions = {}): CleanReport {
  const report: CleanReport = { restored: [], removed: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return report;
  }
  const folders = new Map<string, { kind: string; path: string; time: number }[]>();
  for (const n of names) {
    const f = FILE_TEMP.exec(n);
    if (f !== null && !DIR_TEMP.test(n)) {
      if ((options.only === undefined || f[1] === options.only) && stale(Number(f[2]))) {
        unlinkFile(join(dir, n));
        report.removed.push(join(dir, n));
      }
      continue;
    }
    const d = DIR_TEMP.exec(n);
    if (d === null || (options.only !== undefined && d[2] !== options.only) || !stale(Number(d[3]))) continue;
    const list = folders.get(d[2]!) ?? [];
    list.push({ kind: d[1]!, path: join(dir, n), time: Number(d[4]) });
    folders.set(d[2]!, list);
  }
  for (const [base, list] of folders) {
    const target = join(dir, base);
    // A missing target, or an incomplete one (an earlier version's half-deleted checkpoint), is
    // replaced by its newest `.old-` copy: committed content whose replacement did not finish.
    const usable = existsSync(target) && (options.isComplete === undefined || options.isComplete(target));
    const back = usable ? undefined : [...list].sort((x, y) => y.time - x.time).find((c) => c.kind === 'old' && (options.isComplete === undefined || options.isComplete(c.path)));
    if (back !== undefined) {
      if (existsSync(target)) removeDirAtomic(target);
      renamePath(back.path, target);
      fsyncDir(dir);
      report.restored.push(`${back.path} -> ${target}`);
      list.splice(list.indexOf(back), 1);
    }
    for (const c of list) {
      removeTree(c.path);
      report.removed.push(c.path);
    }
  }
  return report;
}

/**
 * The `.old-` copies of folder `base` in `dir` that `isComplete` accepts, newest first: where a
 * kill between the two renames of a replacement left `base`, for a reader to use while `base`
 * itself is missing. Read-only.
 */
export function hiddenCopies(dir: string, base: string, isComplete: (d: string) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, m: DIR_TEMP.exec(n) }))
    .filter(({ m }) => m !== null && m[2] === base && m[1] === 'old')
    .sort((a, b) => Number(b.m![4]) - Number(a.m![4]))
    .map(({ n }) => join(dir, n))
    .filter((p) => isComplete(p));
}
