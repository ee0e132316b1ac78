/**
 * Image-folder datasets: PNG/JPEG files decoded with sharp, resized (shorter side) and
 * center-cropped to the model size, scaled to [-1, 1] and cached in memory as float32.
 * `DIR/<class>/*.png` is class-conditional (labels = sorted class folder names);
 * a flat `DIR/*.png` is unconditional. Every problem a run would hit later (an empty folder, a
 * class folder without images, mixed channel counts, corrupt files) is found here, before training.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ArgumentError } from '../tensor/errors.js';
import { ImageDecodeError, decodeImage, probeImage } from '../io/png.js';
import { DataError, checkIndex, type Dataset, type Sample } from './dataset.js';
import { checkMemoryBudget } from '../nn/memory_budget.js';

/** File extensions read as images (case-insensitive); other files (manifests, notes) are ignored. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.png', '.jpg', '.jpeg']);

/** What to do with a file that cannot be decoded. */
export type OnCorrupt = 'fail' | 'skip';

/** Options of loadImageFolder. */
export interface ImageFolderOptions {
  /** Side of the square images the model takes, or 'auto': the folder's most common short side (autoImageSize). */
  imageSize: number | 'auto';
  /** 'fail' (default): stop with the file's path; 'skip': report it through onWarning and go on. */
  onCorrupt?: OnCorrupt;
  /** Receives skip reports (default: console.warn). */
  onWarning?: (message: string) => void;
  /** Files decoded at once (default 4; sharp also uses its own thread pool). */
  concurrency?: number;
  /** How a 'fail' error tells the user to skip bad files (default "onCorrupt: 'skip'"; the CLI's train says --skip-corrupt). */
  skipHint?: string;
  /** Refuse images whose header claims more pixels than this, before decoding (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

/** An image folder decoded into memory. */
export class ImageFolderDataset implements Dataset {
  readonly length: number;
  readonly #images: Float32Array; // (length, S, S, C)
  readonly #labels: Int32Array | null;

  constructor(
    readonly name: string,
    readonly imageSize: number,
    readonly channels: number,
    readonly classNames: readonly string[],
    images: Float32Array,
    labels: Int32Array | null,
    /** Source file of each example, in index order. */
    readonly files: readonly string[],
  ) {
    this.length = files.length;
    this.#images = images;
    this.#labels = labels;
  }

  get numClasses(): number | null {
    return this.#labels === null ? null : this.classNames.length;
  }

  get(i: number): Sample {
    checkIndex(this.name, i, this.length);
    const per = this.imageSize * this.imageSize * this.channels;
    return { image: this.#images.slice(i * per, (i + 1) * per), label: this.#labels === null ? null : (this.#labels[i] as number) };
  }
}

const isImage = (name: string): boolean => !name.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());

/** Runs `fn` over `items` with at most `limit` promises in flight, keeping results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** An entry's kind, following symbolic links; an Error (a dangling link, a link loop, no permission) when it cannot be stat'ed. */
function entryKind(path: string): 'dir' | 'file' | 'other' | Error {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch (e) {
    let link = false;
    try {
      link = lstatSync(path).isSymbolicLink();
    } catch {
      // gone altogether
    }
    const code = (e as NodeJS.ErrnoException).code ?? 'an error';
    if (link && code === 'ENOENT') return new Error('is a symbolic link to a file that does not exist (a dangling link)');
    if (code === 'ELOOP') return new Error('is a symbolic link that points back to itself (a link loop)');
    return new Error(`cannot be read (${code}: ${(e as Error).message})`);
  }
}

/** The largest side 'auto' picks: bigger images train at this size unless --image-size says otherwise (pixel-space cost grows with the square of the side). */
export const AUTO_IMAGE_SIZE_MAX = 64;

/**
 * The training size of a folder for imageSize 'auto': the most common short side of its images
 * (ties: the smaller), at most AUTO_IMAGE_SIZE_MAX, rounded down to a multiple of 4 so the U-Net
 * can halve it twice (28, 32, 64, ...), and at least 8. A size below the images' is said once.
 */
export function autoImageSize(sizes: readonly { width: number; height: number }[], dir: string, warn: (m: string) => void): number {
  const counts = new Map<number, number>();
  for (const s of sizes) {
    const side = Math.min(s.width, s.height);
    counts.set(side, (counts.get(side) ?? 0) + 1);
  }
  const [mode] = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]!;
  const size = Math.max(8, Math.floor(Math.min(mode, AUTO_IMAGE_SIZE_MAX) / 4) * 4);
  if (size !== mode) {
    warn(`image folder ${dir}: its images' most common short side is ${mode} px; training at ${size}x${size}${mode > AUTO_IMAGE_SIZE_MAX ? ` (the automatic size stops at ${AUTO_IMAGE_SIZE_MAX})` : ''}; pass --image-size to choose another`);
  }
  return size;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort(); // code-point order: the same labels on every machine
  } catch (e) {
    throw new DataError(`image folder ${dir} cannot be read: ${(e as Error).message}`);
  }
}

/**
 * Loads an image folder: `DIR/<class>/*.{png,jpg,jpeg}` (labels in sorted class-name order) or a
 * flat `DIR/*.png` (unconditional). RGB or grayscale, 8- or 16-bit; every image is resized and
 * center-cropped to imageSize x imageSize, scaled to [-1, 1], decoded once and kept in memory.
 * @example const ds = await loadImageFolder('data/flowers', { imageSize: 64, onCorrupt: 'skip' });
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<ImageFolderDataset> {
  if (typeof dir !== 'string' || dir === '') throw new ArgumentError(`loadImageFolder: dir must be a folder path, found ${JSON.stringify(dir)}`);
  const requested = options?.imageSize;
  if (requested !== 'auto' && (!Number.isInteger(requested) || requested < 1)) {
    throw new ArgumentError(`loadImageFolder: imageSize must be a positive integer (the model's sample size) or 'auto', found ${String(requested)}`);
  }
  const onCorrupt = options.onCorrupt ?? 'fail';
  if (onCorrupt !== 'fail' && onCorrupt !== 'skip') throw new ArgumentError(`loadImageFolder: onCorrupt must be 'fail' or 'skip', found ${JSON.stringify(onCorrupt)}`);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ArgumentError(`loadImageFolder: concurrency must be a positive integer, found ${String(concurrency)}`);
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  const skipHint = options.skipHint ?? "onCorrupt: 'skip'";
  if (typeof skipHint !== 'string') throw new ArgumentError(`loadImageFolder: skipHint must be a string, found ${typeof skipHint}`);
  const probeOptions = options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels };
  /** A file that cannot be used: an error naming it in 'fail' mode, a warning in 'skip' mode. */
  const badFile = (file: string, reason: string): void => {
    const msg = `image ${file} ${reason}`;
    if (onCorrupt === 'fail') throw new DataError(`${msg} (fix or remove it, or pass ${skipHint} to leave such files out)`);
    warn(`skipping ${msg}`);
  };
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new DataError(`image folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new DataError(`${dir} is not a folder; expected DIR/<class>/*.png or DIR/*.png`);

  // 1. Layout: class folders or a flat folder, never both.
  // An image-named entry that cannot be stat'ed (a dangling link) is a bad file like a corrupt one;
  // a folder named x.png at the top is a class folder, below it (or a pipe) it is left out with a warning.
  const entries = listDir(dir);
  const kinds = new Map(entries.filter((e) => !e.startsWith('.')).map((e) => [e, entryKind(join(dir, e))]));
  const classDirs = entries.filter((e) => kinds.get(e) === 'dir');
  const looseImages = entries.filter((e) => isImage(e) && kinds.get(e) !== 'dir');
  if (classDirs.length > 0 && looseImages.length > 0) {
    throw new DataError(
      `image folder ${dir} mixes class folders (${classDirs.slice(0, 3).join(', ')}${classDirs.length > 3 ? ', ...' : ''}) and loose images (${looseImages.slice(0, 3).join(', ')}${looseImages.length > 3 ? ', ...' : ''}); put every image in a class folder, or use a flat folder for unconditional data`,
    );
  }
  /** The usable image files of a folder: image-named entries that are files; the others are bad files. */
  const imageFiles = (folder: string, names: readonly string[]): string[] =>
    names.filter((f) => {
      const path = join(folder, f);
      const kind = entryKind(path);
      if (kind === 'file') return true;
      // A folder or pipe named like an image was always left out; it now says so.
      if (kind instanceof Error) badFile(path, kind.message);
      else warn(`skipping ${path}: ${kind === 'dir' ? 'a folder' : 'not a regular file (a pipe, socket or device)'} named like an image`);
      return false;
    });
  const files: string[] = [];
  const fileLabels: number[] = [];
  if (classDirs.length > 0) {
    classDirs.forEach((cls, k) => {
      const named = listDir(join(dir, cls)).filter(isImage);
      const imgs = imageFiles(join(dir, cls), named);
      if (imgs.length === 0) {
        throw new DataError(`class folder ${join(dir, cls)} has no ${named.length > 0 ? 'usable ' : ''}images (.png, .jpg, .jpeg); add images or remove the folder`);
      }
      for (const f of imgs) {
        files.push(join(dir, cls, f));
        fileLabels.push(k);
      }
    });
  } else {
    const imgs = imageFiles(dir, looseImages);
    if (looseImages.length === 0) throw new DataError(`image folder ${dir} has no images (.png, .jpg, .jpeg) and no class folders`);
    if (imgs.length === 0) throw new DataError(`image folder ${dir}: none of its ${looseImages.length} images can be read`);
    files.push(...imgs.map((f) => join(dir, f)));
  }

  // 2. Probe every header first: unreadable files and mixed channel counts surface before decoding.
  const probes = await mapLimit(files, concurrency, async (f) => {
    try {
      return await probeImage(f, probeOptions);
    } catch (e) {
      return new Error(e instanceof ImageDecodeError ? e.reason : (e as Error).message);
    }
  });
  const keep: number[] = [];
  for (let i = 0; i < files.length; i++) {
    const p = probes[i];
    if (p instanceof Error) badFile(files[i] as string, p.message);
    else keep.push(i);
  }
  if (keep.length === 0) throw new DataError(`image folder ${dir}: none of its ${files.length} images can be decoded`);
  const byChannels = new Map<number, string[]>();
  for (const i of keep) {
    const p = probes[i] as { channels: number };
    const list = byChannels.get(p.channels) ?? [];
    list.push(files[i] as string);
    byChannels.set(p.channels, list);
  }
  if (byChannels.size > 1) {
    const grey = byChannels.get(1) ?? [];
    const rgb = byChannels.get(3) ?? [];
    throw new DataError(
      `image folder ${dir} mixes channel counts: ${grey.length} grayscale (e.g. ${grey[0]}) and ${rgb.length} colour (e.g. ${rgb[0]}); convert them to one kind (all grayscale or all RGB)`,
    );
  }
  const channels = byChannels.keys().next().value as number;
  const size = requested === 'auto' ? autoImageSize(keep.map((i) => probes[i] as { width: number; height: number }), dir, warn) : requested;

  // 3. Decode once into one float32 block (N, S, S, C), if it fits the memory budget.
  const per = size * size * channels;
  checkMemoryBudget({
    what: `image folder ${dir}`,
    bytes: keep.length * per * 4,
    parts: [`${keep.length} images x ${size}x${size}x${channels} x 4 bytes (float32, held in memory)`],
    fix: 'use fewer images or a smaller image size (the model\'s sample_size)',
  });
  const decoded = await mapLimit(keep, concurrency, async (i) => {
    try {
      return await decodeImage(files[i] as string, { size, ...probeOptions });
    } catch (e) {
      return new Error(e instanceof ImageDecodeError ? e.reason : (e as Error).message);
    }
  });
  const okFiles: string[] = [];
  const okLabels: number[] = [];
  const images = new Float32Array(keep.length * per);
  let n = 0;
  keep.forEach((i, j) => {
    const d = decoded[j];
    if (d instanceof Error || d === undefined) {
      badFile(files[i] as string, d instanceof Error ? d.message : 'cannot be decoded');
      return;
    }
    images.set(d.data, n * per);
    okFiles.push(files[i] as string);
    okLabels.push(fileLabels[i] ?? 0);
    n++;
  });
  if (n === 0) throw new DataError(`image folder ${dir}: none of its ${files.length} images can be decoded`);
  if (classDirs.length > 0) {
    // A class whose every image was skipped would leave a label the model never sees.
    const seen = new Set(okLabels);
    const missing = classDirs.filter((_, k) => !seen.has(k));
    if (missing.length > 0) throw new DataError(`class folder(s) ${missing.map((c) => join(dir, c)).join(', ')} have no decodable images`);
  }
  return new ImageFolderDataset(
    dir,
    size,
    channels,
    classDirs,
    n === keep.length ? images : images.slice(0, n * per),
    classDirs.length > 0 ? Int32Array.from(okLabels) : null,
    okFiles,
  );
}
