/**
 * Animated GIF writer: the file decodes (sharp) to the same frame count, size, loop and delays,
 * with grayscale pixels exact and RGB pixels within palette quantisation; bad input errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeGif, writeGif } from '../../src/io/gif.js';
import { tensor } from '../../src/tensor/create.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { signedToUint } from '../../src/data/transforms.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** Decodes every frame to RGBA bytes. */
async function decode(buf: Buffer): Promise<{ pages: number; pageHeight: number; width: number; loop: number | undefined; delay: number[] | undefined; rgba: Buffer }> {
  const m = await sharp(buf, { animated: true }).metadata();
  const rgba = await sharp(buf, { animated: true }).ensureAlpha().raw().toBuffer();
  return { pages: m.pages ?? 1, pageHeight: m.pageHeight ?? m.height!, width: m.width!, loop: m.loop, delay: m.delay, rgba };
}

describe('gif', () => {
  it('grayscale frames (H != W, duplicates kept) decode within one level, loop forever, per-frame delays', async () => {
    const [f, h, w] = [4, 5, 7];
    const frames = randTensor([f, h, w, 1], 1);
    // Frame 3 repeats frame 2: it must still be its own frame.
    hostBuffer(frames).copyWithin(3 * h * w, 2 * h * w, 3 * h * w);
    const gif = await encodeGif(frames, { delayMs: [100, 200, 300, 1000] });
    assert.equal(gif.subarray(0, 6).toString('latin1'), 'GIF89a');
    const d = await decode(gif);
    assert.equal(d.pages, f);
    assert.equal(d.pageHeight, h);
    assert.equal(d.width, w);
    assert.equal(d.loop, 0);
    assert.deepEqual(d.delay, [100, 200, 300, 1000]);
    const want = signedToUint(hostBuffer(frames), 8);
    // libvips' palette quantiser may move a grey level by one (of 255) even when all fit in 256.
    for (let i = 0; i < f * h * w; i++) {
      assert.ok(Math.abs(d.rgba[i * 4]! - want[i]!) <= 1, `pixel ${i}: ${d.rgba[i * 4]} vs ${want[i]}`);
      assert.equal(d.rgba[i * 4 + 1], d.rgba[i * 4], 'grey stays grey');
    }
    // Frames 2 and 3 hold the same pixels.
    assert.deepEqual(d.rgba.subarray(3 * h * w * 4, 4 * h * w * 4), d.rgba.subarray(2 * h * w * 4, 3 * h * w * 4));
  });

  it('RGB frames decode within palette quantisation; a closed-form frame (black/white) exactly', async () => {
    const frames = randTensor([3, 6, 4, 3], 2);
    // Frame 0: the left half black (-1), the right half white (+1).
    for (let y = 0; y < 6; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) hostBuffer(frames)[(y * 4 + x) * 3 + c] = x < 2 ? -1 : 1;
    const d = await decode(await encodeGif(frames));
    assert.equal(d.pages, 3);
    assert.deepEqual(d.delay, [100, 100, 100]);
    const want = signedToUint(hostBuffer(frames), 8);
    let maxErr = 0;
    for (let i = 0; i < 3 * 6 * 4; i++) for (let c = 0; c < 3; c++) maxErr = Math.max(maxErr, Math.abs(d.rgba[i * 4 + c]! - want[i * 3 + c]!));
    assert.ok(maxErr <= 24, `max error ${maxErr}`); // 72 colours fit a 256 palette; allow libvips' quantiser a little
    for (let i = 0; i < 24; i++) for (let c = 0; c < 3; c++) assert.equal(d.rgba[i * 4 + c], i % 4 < 2 ? 0 : 255);
  });

  it('writeGif writes atomically (no temp files left); one frame works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-gif-'));
    const path = join(dir, 'a.gif');
    await writeGif(path, tensor([-1, 1], [1, 1, 2, 1]), { loop: 3 });
    assert.deepEqual(readdirSync(dir), ['a.gif']);
    const d = await decode(readFileSync(path));
    assert.equal(d.pages, 1);
    assert.deepEqual([d.rgba[0], d.rgba[4]], [0, 255]);
  });

  it('bad input: rank, channels, empty, delays and loop give clear errors', async () => {
    await assert.rejects(encodeGif(tensor([0], [1, 1, 1])), (e: Error) => e instanceof ShapeError && /expected rank 4 \(F, H, W, C\)/.test(e.message));
    await assert.rejects(encodeGif(tensor(new Array(8).fill(0), [1, 1, 2, 4])), (e: Error) => e instanceof ShapeError && /4 channels.*expected 1 \(grayscale\) or 3 \(RGB\)/.test(e.message));
    await assert.rejects(encodeGif(tensor([], [0, 1, 1, 1])), ShapeError);
    await assert.rejects(encodeGif(tensor([0, 0], [2, 1, 1, 1]), { delayMs: [1] }), (e: Error) => e instanceof ArgumentError && /1 entries for 2 frames/.test(e.message));
    await assert.rejects(encodeGif(tensor([0], [1, 1, 1, 1]), { delayMs: -5 }), ArgumentError);
    await assert.rejects(encodeGif(tensor([0], [1, 1, 1, 1]), { loop: 1.5 }), /loop must be an integer/);
    await assert.rejects(encodeGif([0] as never), (e: Error) => e instanceof ArgumentError && /must be a Tensor/.test(e.message));
  });
});
