/**
 * Bad image files for the decode tests (issue 14, failures 4 and 7): truncations, wrong formats,
 * empty files, text renamed .png, decompression bombs (a small file whose header claims a huge
 * size), links, folders and pipes named like images. Every case is built here from a good image
 * made with sharp, so no binary blob is checked in.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';

/** What a case must give: 'ok' (a format libvips reads, decodes as today) or 'error' (an ImageDecodeError), or either ('any'). */
export type Expect = 'ok' | 'error' | 'any';

/** A bad (or odd) image on disk. */
export interface BadImage {
  name: string;
  path: string;
  expect: Expect;
  /** A pattern the error's reason must match (what is wrong), when expect is 'error'. */
  reason?: RegExp;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** PNG's CRC-32 of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC (a wrong CRC with `badCrc`). */
function chunk(type: string, data: Buffer, badCrc = false): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(badCrc ? crc32(body) ^ 1 : crc32(body));
  return Buffer.concat([len, body, crc]);
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG whose header claims width x height (grayscale, `bits` deep) followed by a few rows of zeros: a decompression bomb's header. */
export function bombPng(width: number, height: number, bits: 8 | 16 = 8): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bits;
  ihdr[9] = 0; // grayscale
  const rows = Math.min(height, 4);
  const idat = deflateSync(Buffer.alloc(Math.min(rows * (1 + (width * bits) / 8), 1 << 20)));
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A tiny palette PNG (1x1) whose PLTE chunk is cut short. */
function truncatedPalettePng(): Buffer {
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 3, 0, 0, 0]);
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', Buffer.from([1, 2])), chunk('IDAT', deflateSync(Buffer.from([0, 0]))), chunk('IEND', Buffer.alloc(0))]);
}

/** `jpeg` with its SOF0 frame size patched to width x height. */
function patchJpegSize(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; ) {
    if (out[i] !== 0xff) break;
    const marker = out[i + 1]!;
    const len = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('patchJpegSize: no SOF marker found');
}

/** Seeded bytes (an LCG), so the random-bytes case is the same on every run. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

/**
 * Writes every case into `dir` and lists them. 'ok' cases are formats libvips reads besides PNG
 * and JPEG (they decode today and must keep decoding); 'any' cases are damaged files libvips may
 * still read (a missing IEND) or not: never a crash or an error without the file's name.
 */
export async function writeBadImages(dir: string): Promise<BadImage[]> {
  mkdirSync(dir, { recursive: true });
  const gray = sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 90, g: 90, b: 90 } } });
  const png = await gray.clone().png().toBuffer();
  const jpg = await gray.clone().jpeg().toBuffer();
  const cases: BadImage[] = [];
  const file = (name: string, bytes: Buffer | string, expect: Expect, reason?: RegExp): void => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    cases.push({ name, path, expect, ...(reason === undefined ? {} : { reason }) });
  };
  const NOT_IMAGE = /is not a PNG or JPEG image/;
  const CORRUPT = /truncated or corrupt/;
  const CLAIMS = /header claims \d+x\d+ pixels .* more than the limit/;
  file('empty.png', '', 'error', /is empty \(0 bytes\)/);
  file('text.png', 'hello, this is not an image\n', 'error', NOT_IMAGE);
  file('page.png', '<!doctype html><html><body>404 Not Found</body></html>', 'error', NOT_IMAGE);
  file('noise.png', noise(1024, 7), 'error', NOT_IMAGE);
  file('gzip.png', gzipSync(Buffer.from('not an image')), 'error', NOT_IMAGE);
  file('json.jpg', '{"image": null}', 'error', NOT_IMAGE);
  file('signature-only.png', SIGNATURE, 'error');
  for (const n of [16, 33, 40, 60]) file(`cut-${n}.png`, png.subarray(0, n), 'error');
  file('cut-idat.png', png.subarray(0, png.length - 20), 'error', CORRUPT);
  file('no-iend.png', png.subarray(0, png.length - 12), 'any');
  const badCrc = Buffer.from(png);
  badCrc[29] = badCrc[29]! ^ 0xff; // the IHDR CRC's first byte
  file('ihdr-crc.png', badCrc, 'any');
  const badIdat = Buffer.from(png);
  for (let i = 45; i < Math.min(badIdat.length - 16, 70); i++) badIdat[i] = badIdat[i]! ^ 0x5a;
  file('idat-garbled.png', badIdat, 'any');
  file('width-0.png', bombPng(0, 8), 'error');
  file('bomb-8bit.png', bombPng(16000, 16000, 8), 'error', CLAIMS);
  file('bomb-16bit.png', bombPng(16000, 16000, 16), 'error', CLAIMS);
  file('bomb-100k.png', bombPng(100000, 100000), 'error', CLAIMS);
  file('bomb-wide.png', bombPng(2 ** 31 - 1, 1), 'error');
  file('huge-chunk.png', Buffer.concat([png.subarray(0, 33), Buffer.from([0x7f, 0xff, 0xff, 0xff]), Buffer.from('IDAT'), noise(64, 3)]), 'error');
  file('palette-cut.png', truncatedPalettePng(), 'error');
  file('cut-half.jpg', jpg.subarray(0, Math.floor(jpg.length / 2)), 'error', CORRUPT);
  file('soi-only.jpg', jpg.subarray(0, 2), 'error');
  file('soi-garbage.jpg', Buffer.concat([jpg.subarray(0, 2), noise(256, 11)]), 'error');
  file('bomb.jpg', patchJpegSize(jpg, 65000, 65000), 'error', CLAIMS);
  file('height-0.jpg', patchJpegSize(jpg, 8, 0), 'error');
  file('bomb.svg.png', '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>', 'error', CLAIMS);
  file('small.svg.png', '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#888"/></svg>', 'ok');
  file('bmp.png', Buffer.concat([Buffer.from('BM'), noise(60, 5)]), 'error', NOT_IMAGE);
  file('gif.png', await gray.clone().gif().toBuffer(), 'ok');
  file('webp.png', await gray.clone().webp().toBuffer(), 'ok');
  file('tiff.png', await gray.clone().tiff().toBuffer(), 'ok');
  // Entries that are not files.
  mkdirSync(join(dir, 'folder.png'));
  cases.push({ name: 'folder.png', path: join(dir, 'folder.png'), expect: 'error', reason: /is a folder, not an image file/ });
  symlinkSync(join(dir, 'gone.png'), join(dir, 'dangling.png'));
  cases.push({ name: 'dangling.png', path: join(dir, 'dangling.png'), expect: 'error', reason: /dangling link/ });
  symlinkSync(join(dir, 'loop-b.png'), join(dir, 'loop-a.png'));
  symlinkSync(join(dir, 'loop-a.png'), join(dir, 'loop-b.png'));
  cases.push({ name: 'loop-a.png', path: join(dir, 'loop-a.png'), expect: 'error', reason: /link loop/ });
  execFileSync('mkfifo', [join(dir, 'fifo.png')]);
  cases.push({ name: 'fifo.png', path: join(dir, 'fifo.png'), expect: 'error', reason: /not a regular file/ });
  cases.push({ name: 'missing.png', path: join(dir, 'missing.png'), expect: 'error', reason: /no such file/ });
  return cases;
}
