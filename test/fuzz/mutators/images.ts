/**
 * Image inputs for the image, image-folder and HTTP targets: a corpus of valid small files
 * (PNG grey/RGB/RGBA/16-bit/palette, JPEG grey/colour), other formats under a .png name (GIF,
 * WebP, TIFF, SVG, text), hand-made PNGs whose header claims a size their data does not hold
 * (truncated IDAT), decompression bombs (a valid PNG of zeros claiming 20000x20000 8-bit or
 * 16000x16000 16-bit pixels, about half a megabyte on disk), JPEGs with a patched frame size,
 * and byte mutations of all of these.
 */
import { createDeflate, crc32 as zlibCrc32 } from 'node:zlib';
import sharp from 'sharp';
import type { Rng } from '../rng.js';
import { mutateBytes } from './bytes.js';

/** One image input: the bytes, a file extension to store it under, and what it is. */
export interface ImageInput {
  bytes: Buffer;
  ext: string;
  /** What the bytes are ('png', 'jpeg', 'gif', ...) or how they were made ('bomb', 'mutated', ...). */
  kind: string;
  /** True when the bytes are a complete PNG or JPEG a reader should accept. */
  valid: boolean;
}

/** PNG chunk CRC (zlib.crc32 is Node >= 20.15; fall back to a table otherwise). */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(b);
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG from its IHDR fields and already-compressed IDAT bytes. */
export function pngFromParts(width: number, height: number, bitDepth: number, colourType: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width >>> 0, 0);
  ihdr.writeUInt32BE(height >>> 0, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * A decompression bomb: a valid grey PNG of zeros, `width` x `height` at `bitDepth`, whose
 * compressed data is about 1/1000 of the decoded size (streamed: the raw rows never exist at once).
 */
export async function pngBomb(width: number, height: number, bitDepth: 8 | 16): Promise<Buffer> {
  const row = Buffer.alloc(1 + (width * bitDepth) / 8); // filter byte 0 + zero samples
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  for (let y = 0; y < height; y++) {
    if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return pngFromParts(width, height, bitDepth, 0, Buffer.concat(parts));
}

/** The valid corpus and the bombs, made once per run. */
export interface ImageCorpus {
  valid: ImageInput[];
  foreign: ImageInput[];
  bombs: ImageInput[];
}

/** Builds the corpus (bombs only when asked: they take a few seconds to compress). */
export async function buildImageCorpus(withBombs: boolean): Promise<ImageCorpus> {
  const raw = (w: number, h: number, c: 1 | 3 | 4, seed: number) => {
    const b = Buffer.alloc(w * h * c);
    for (let i = 0; i < b.length; i++) b[i] = (i * 37 + seed * 11) & 0xff;
    return sharp(b, { raw: { width: w, height: h, channels: c } });
  };
  const valid: ImageInput[] = [
    { bytes: await raw(8, 8, 1, 1).png().toBuffer(), ext: '.png', kind: 'png-grey', valid: true },
    { bytes: await raw(12, 9, 3, 2).png().toBuffer(), ext: '.png', kind: 'png-rgb', valid: true },
    { bytes: await raw(8, 8, 4, 3).png().toBuffer(), ext: '.png', kind: 'png-rgba', valid: true },
    { bytes: await raw(8, 8, 1, 4).toColourspace('grey16').png().toBuffer(), ext: '.png', kind: 'png-16bit', valid: true },
    { bytes: await raw(16, 16, 3, 5).png({ palette: true }).toBuffer(), ext: '.png', kind: 'png-palette', valid: true },
    { bytes: await raw(16, 16, 3, 6).jpeg().toBuffer(), ext: '.jpg', kind: 'jpeg-rgb', valid: true },
    { bytes: await raw(8, 8, 1, 7).jpeg().toBuffer(), ext: '.jpeg', kind: 'jpeg-grey', valid: true },
    { bytes: await raw(1, 1, 1, 8).png().toBuffer(), ext: '.png', kind: 'png-1x1', valid: true },
  ];
  const foreign: ImageInput[] = [
    { bytes: await raw(8, 8, 3, 9).gif().toBuffer(), ext: '.png', kind: 'gif', valid: false },
    { bytes: await raw(8, 8, 3, 10).webp().toBuffer(), ext: '.png', kind: 'webp', valid: false },
    { bytes: await raw(8, 8, 3, 11).tiff().toBuffer(), ext: '.png', kind: 'tiff', valid: false },
    { bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'), ext: '.png', kind: 'svg', valid: false },
    { bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100000" height="100000"/></svg>'), ext: '.png', kind: 'svg-huge', valid: false },
    { bytes: Buffer.from('not an image\n'), ext: '.png', kind: 'text', valid: false },
    { bytes: Buffer.alloc(0), ext: '.png', kind: 'empty', valid: false },
  ];
  // Headers that claim more than the data holds (small files, huge sizes).
  const tinyIdat = Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
  foreign.push(
    { bytes: pngFromParts(16000, 16000, 16, 0, tinyIdat), ext: '.png', kind: 'claims-16000x16000-16bit', valid: false },
    { bytes: pngFromParts(0x7fffffff, 1, 8, 0, tinyIdat), ext: '.png', kind: 'claims-2^31-wide', valid: false },
    { bytes: pngFromParts(100000, 100000, 8, 2, tinyIdat), ext: '.png', kind: 'claims-100000x100000-rgb', valid: false },
    { bytes: pngFromParts(8, 8, 7, 0, tinyIdat), ext: '.png', kind: 'bad-bit-depth', valid: false },
  );
  const jpeg = valid[5]!.bytes;
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  if (sof >= 0) {
    const big = Buffer.from(jpeg);
    big.writeUInt16BE(65000, sof + 5);
    big.writeUInt16BE(65000, sof + 7);
    foreign.push({ bytes: big, ext: '.jpg', kind: 'jpeg-claims-65000x65000', valid: false });
  }
  const bombs: ImageInput[] = withBombs
    ? [
        { bytes: await pngBomb(20000, 20000, 8), ext: '.png', kind: 'bomb-20000x20000-8bit', valid: false },
        { bytes: await pngBomb(16000, 16000, 16), ext: '.png', kind: 'bomb-16000x16000-16bit', valid: false },
      ]
    : [];
  return { valid, foreign, bombs };
}

/**
 * One image input: a valid file, a foreign one, a bomb (rarely: they are slow), a truncated
 * valid file, or a byte mutation of any of these.
 */
export function imageInput(rng: Rng, corpus: ImageCorpus, bombRate = 0.03): ImageInput {
  if (corpus.bombs.length > 0 && rng.chance(bombRate)) return rng.pick(corpus.bombs);
  const base = rng.chance(0.7) ? rng.pick(corpus.valid) : rng.pick(corpus.foreign);
  switch (rng.int(5)) {
    case 0:
      return base;
    case 1:
      return { ...base, bytes: base.bytes.subarray(0, rng.int(base.bytes.length)), kind: `${base.kind}-truncated`, valid: false };
    default: {
      const other = rng.pick(corpus.valid).bytes;
      return { ...base, bytes: mutateBytes(rng, base.bytes, other, 3), kind: `${base.kind}-mutated`, valid: false };
    }
  }
}
