import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, imageGrid, readPng, writePng, writePngGrid } from '../../src/io/png.js';
import { tensor } from '../../src/tensor/create.js';
import { uintToSigned } from '../../src/data/transforms.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { rng } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'diffuse-png-'));

describe('png', () => {
  it('imageGrid tiles (N, H, W, C) with padding between and around tiles (closed form)', () => {
    // Three 1x2 single-channel images, 2 per row, padding 1 filled with -1.
    const g = imageGrid(tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [3, 1, 2, 1]), { nrow: 2, padding: 1 });
    assert.equal(g.height, 5); // 2 rows * (1 + 1) + 1
    assert.equal(g.width, 7); // 2 cols * (2 + 1) + 1
    const P = -1;
    const expected = [
      [P, P, P, P, P, P, P],
      [P, 0.1, 0.2, P, 0.3, 0.4, P],
      [P, P, P, P, P, P, P],
      [P, 0.5, 0.6, P, P, P, P],
      [P, P, P, P, P, P, P],
    ].flat();
    assert.deepEqual(Array.from(g.data), Array.from(Float32Array.from(expected)));
    // Default: ceil(sqrt(N)) per row, padding 2.
    const d = imageGrid(tensor(new Array(5 * 4 * 3 * 3).fill(0), [5, 4, 3, 3]));
    assert.deepEqual([d.height, d.width, d.channels], [2 * 6 + 2, 3 * 5 + 2, 3]);
  });

  it('round-trips a 16-bit grayscale PNG exactly (H != W), written atomically', async () => {
    const dir = tmp();
    const r = rng(5);
    const h = 5;
    const w = 7;
    const u16 = Uint16Array.from({ length: h * w }, () => Math.floor(r() * 65536));
    u16[0] = 0;
    u16[1] = 65535;
    const x = tensor(uintToSigned(u16, 16), [h, w, 1]);
    const path = join(dir, 'g16.png');
    await writePng(path, x, { bitDepth: 16 });
    assert.deepEqual(readdirSync(dir), ['g16.png']); // no temporary file left behind
    const meta = await sharp(path).metadata();
    assert.deepEqual([meta.channels, meta.depth, meta.width, meta.height], [1, 'ushort', w, h]);
    const back = await decodeImage(path);
    assert.equal(back.bitDepth, 16);
    assert.deepEqual(Array.from(back.data), Array.from(hostBuffer(x)));
    const t = await readPng(path);
    assert.deepEqual(t.shape, [h, w, 1]);
  });

  it('round-trips 8-bit grayscale and 8/16-bit RGB grids exactly', async () => {
    const dir = tmp();
    for (const bitDepth of [8, 16] as const) {
      for (const c of [1, 3]) {
        const max = bitDepth === 8 ? 255 : 65535;
        const r = rng(bitDepth + c);
        const ints = Array.from({ length: 3 * 2 * 3 * c }, () => Math.floor(r() * (max + 1)));
        const x = tensor(uintToSigned(ints, bitDepth), [3, 2, 3, c]); // (N, H, W, C)
        const path = join(dir, `grid${bitDepth}_${c}.png`);
        await writePngGrid(path, x, { nrow: 3, padding: 1, padValue: 1, bitDepth });
        const meta = await sharp(path).metadata();
        assert.deepEqual([meta.channels, meta.depth], [c, bitDepth === 8 ? 'uchar' : 'ushort'], `${bitDepth}-bit C=${c}`);
        const back = await decodeImage(path);
        assert.deepEqual(Array.from(back.data), Array.from(imageGrid(x, { nrow: 3, padding: 1, padValue: 1 }).data), `${bitDepth}-bit C=${c}`);
      }
    }
  });

  it('writes a (1, H, W, C) image; NaN becomes black and out-of-range values clamp', async () => {
    const path = join(tmp(), 'one.png');
    await writePng(path, tensor([NaN, 2, -5, 0], [1, 2, 2, 1]));
    const back = await decodeImage(path);
    assert.deepEqual(Array.from(back.data), [-1, 1, -1, 128 / 255 * 2 - 1].map(Math.fround));
  });

  it('bad input gives clear errors', async () => {
    const path = join(tmp(), 'bad.png');
    await assert.rejects(writePng(path, tensor([0, 0], [1, 1, 2])), (e: Error) => e instanceof ShapeError && /has 2 channels .*expected 1 \(grayscale\) or 3 \(RGB\)/.test(e.message));
    await assert.rejects(writePng(path, tensor([0, 0], [2, 1, 1, 1])), /use writePngGrid for a batch/);
    await assert.rejects(writePng(path, tensor([0], [1, 1, 1]), { bitDepth: 12 as 8 }), (e: Error) => e instanceof ArgumentError && /bitDepth must be 8 or 16, found 12/.test(e.message));
    await assert.rejects(writePngGrid(path, tensor([0], [1, 1])), /expected rank 4 \(N, H, W, C\)/);
    assert.throws(() => imageGrid(tensor([0], [1, 1, 1, 1]), { nrow: 0 }), /nrow must be a positive integer, found 0/);
    await assert.rejects(readPng(join(tmp(), 'missing.png')), /missing\.png|Input file is missing/);
  });
});
