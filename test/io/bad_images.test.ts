/**
 * Every image read names the file and what is wrong with it (issue 14, failure 7: 15 of 35 bad
 * images gave `pngload: end of stream` and a stack without the file name), and a small file whose
 * header claims a huge size is refused from the header, before decoding (failure 4: a 1.5 MB PNG
 * claiming 16000x16000 cost 3 GiB).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS, ImageDecodeError, decodeImage, probeImage, readPng } from '../../src/io/png.js';
import { DiffuseError } from '../../src/tensor/errors.js';
import { bombPng, writeBadImages } from '../helpers/bad_images.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'diffuse-badimg-'));

describe('bad image files', () => {
  it('each of 38 bad or odd files decodes (a format libvips reads) or is an ImageDecodeError naming the file and what is wrong', async () => {
    const dir = tmp();
    try {
      const cases = await writeBadImages(dir);
      assert.equal(cases.length, 38);
      const outcome: string[] = [];
      for (const c of cases) {
        for (const read of [(p: string) => decodeImage(p), (p: string) => decodeImage(p, { size: 4 }), (p: string) => readPng(p)]) {
          let error: unknown = null;
          try {
            await read(c.path);
          } catch (e) {
            error = e;
          }
          if (error === null) {
            assert.notEqual(c.expect, 'error', `${c.name} decoded; expected an error`);
            outcome.push(`${c.name}: ok`);
            continue;
          }
          assert.notEqual(c.expect, 'ok', `${c.name}: ${String(error)}`);
          assert.ok(error instanceof ImageDecodeError && error instanceof DiffuseError, `${c.name}: not an ImageDecodeError: ${String((error as Error).stack)}`);
          assert.equal(error.source, c.path);
          assert.ok(error.message.startsWith(`${c.path}: `), `${c.name}: ${error.message}`);
          if (c.reason !== undefined) assert.match(error.reason, c.reason, c.name);
          assert.ok(!error.message.includes('\n'), `${c.name}: one line: ${error.message}`);
          // What is wrong, in words (never libvips' bare message alone).
          assert.match(error.reason, /is empty|is not a PNG or JPEG|truncated or corrupt|header claims|more pixels than the limit|no image size|is a folder|dangling link|link loop|not a regular file|no such file|permission denied|inconsistent/, `${c.name}: ${error.reason}`);
          outcome.push(`${c.name}: error`);
        }
      }
      // The cases libvips reads (SVG, GIF, WebP, TIFF) still decode, as before.
      for (const name of ['small.svg.png', 'gif.png', 'webp.png', 'tiff.png']) assert.ok(outcome.includes(`${name}: ok`), name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a decompression bomb is refused from its header: fast, RSS flat, claimed size and limit named; buffers are named by `name`', async () => {
    const bomb = bombPng(16000, 16000, 16);
    assert.ok(bomb.length < 2 ** 20);
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    await assert.rejects(
      decodeImage(bomb, { name: "'image'" }),
      (e: unknown) => e instanceof ImageDecodeError && e.message === `'image': its header claims 16000x16000 pixels (256.0 megapixels), more than the limit of ${DEFAULT_MAX_PIXELS} pixels (67.1 megapixels); resize the image (the model takes far smaller ones), or pass a larger maxPixels`,
    );
    assert.ok(performance.now() - t0 < 1000);
    assert.ok(process.memoryUsage().rss - rss0 < 64 * 2 ** 20, 'nothing decoded');
    // The limit is an option; libvips enforces it too. A buffer without a name is 'the image'.
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
    await assert.rejects(decodeImage(png, { maxPixels: 199 }), /^Error|the image: its header claims 20x10 pixels/);
    assert.equal((await decodeImage(png, { maxPixels: 200 })).width, 20);
    await assert.rejects(probeImage(png, { maxPixels: 0 }), /maxPixels must be a positive integer/);
    await assert.rejects(decodeImage(Buffer.alloc(0)), /^ImageDecodeError|the image: is empty/);
    assert.deepEqual(await probeImage(png), { channels: 3, bitDepth: 8, width: 20, height: 10, format: 'png' });
  });

  it('an unreadable file (chmod 000) is refused naming it, unless the process runs as root (then permissions do not bite)', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'locked.png');
      writeFileSync(path, await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer());
      chmodSync(path, 0o000);
      let root = false;
      try {
        readFileSync(path);
        root = true; // the read succeeded despite mode 000: root (or CAP_DAC_OVERRIDE)
      } catch {
        // permissions bite
      }
      if (root) assert.equal((await decodeImage(path)).width, 4);
      else await assert.rejects(decodeImage(path), (e: unknown) => e instanceof ImageDecodeError && /permission denied/.test(e.reason) && e.source === path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
