import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImageFolder } from '../../src/data/image_folder.js';
import { loadDataset } from '../../src/data/index.js';
import { DataError } from '../../src/data/dataset.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { bombPng } from '../helpers/bad_images.js';
import { MemoryBudgetError, setMaxMemory } from '../../src/nn/memory_budget.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'diffuse-folder-'));

/** Writes an image file from integer samples (H, W, C); the typed array sets the bit depth. */
async function writeImage(path: string, px: Uint8Array | Uint16Array, width: number, height: number, channels: 1 | 3 | 4, format: 'png' | 'jpeg' = 'png'): Promise<void> {
  const sixteen = px instanceof Uint16Array;
  let s = sharp(px, { raw: { width, height, channels } });
  if (channels === 1) s = s.toColourspace(sixteen ? 'grey16' : 'b-w');
  else if (sixteen) s = s.toColourspace('rgb16');
  await (format === 'png' ? s.png() : s.jpeg({ quality: 95 })).toFile(path);
}

const solid = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

describe('image folders', () => {
  it('class folders give sorted labels; RGB PNG and JPEG are resized and center-cropped into [-1, 1]', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'dog'));
    mkdirSync(join(dir, 'cat'));
    // A 12x4 RGB image whose 4 middle columns are white, the rest black: the shorter side already
    // has the model size, so the center crop alone must keep exactly the white columns 4..7.
    const wide = new Uint8Array(4 * 12 * 3);
    for (let y = 0; y < 4; y++) for (let x = 4; x < 8; x++) for (let c = 0; c < 3; c++) wide[(y * 12 + x) * 3 + c] = 255;
    await writeImage(join(dir, 'cat', 'a.png'), wide, 12, 4, 3);
    await writeImage(join(dir, 'cat', 'b.png'), solid(9 * 5 * 4, 0), 9, 5, 4); // RGBA 9x5: alpha dropped, resized
    await writeImage(join(dir, 'dog', 'c.jpg'), solid(6 * 6 * 3, 0), 6, 6, 3, 'jpeg');
    writeFileSync(join(dir, 'dog', 'notes.txt'), 'not an image: ignored');
    const ds = await loadImageFolder(dir, { imageSize: 4 });
    assert.deepEqual([ds.length, ds.channels, ds.imageSize, ds.numClasses], [3, 3, 4, 2]);
    assert.deepEqual(ds.classNames, ['cat', 'dog']);
    assert.deepEqual([0, 1, 2].map((i) => ds.get(i).label), [0, 0, 1]);
    assert.deepEqual(ds.files.map((f) => f.slice(dir.length + 1)), ['cat/a.png', 'cat/b.png', 'dog/c.jpg']);
    const a = ds.get(0).image;
    assert.equal(a.length, 4 * 4 * 3);
    assert.ok(a.every((v) => v === 1), `center crop should be white, got ${Array.from(a).slice(0, 6)}`);
    assert.ok(ds.get(1).image.every((v) => v === -1));
    assert.ok(ds.get(2).image.every((v) => v >= -1 && v <= -0.95)); // black JPEG, up to compression noise
  });

  it('a flat folder of 16-bit grayscale PNGs is unconditional and keeps all 16 bits', async () => {
    const dir = tmp();
    const px = Uint16Array.from({ length: 3 * 3 }, (_, i) => i * 7001 + 3);
    await writeImage(join(dir, 'x.png'), px, 3, 3, 1);
    await writeImage(join(dir, 'y.png'), new Uint16Array(9).fill(65535), 3, 3, 1);
    const ds = await loadImageFolder(dir, { imageSize: 3 });
    assert.deepEqual([ds.length, ds.channels, ds.numClasses, ds.classNames.length], [2, 1, null, 0]);
    const { image, label } = ds.get(0);
    assert.equal(label, null);
    assert.deepEqual(Array.from(image), Array.from(Float32Array.from(px, (v) => (v * 2) / 65535 - 1)));
    // A 16-bit value that 8 bits cannot hold survives: 3 -> -1 + 6/65535, not -1.
    assert.ok((image[0] as number) > -1);
  });

  it('a corrupt or truncated image fails the load naming its path, or is skipped and reported', async () => {
    const dir = tmp();
    await writeImage(join(dir, 'good.png'), solid(4 * 4, 200), 4, 4, 1);
    writeFileSync(join(dir, 'garbage.png'), 'this is not an image');
    const whole = readFileSync(join(dir, 'good.png'));
    writeFileSync(join(dir, 'truncated.png'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    await assert.rejects(loadImageFolder(dir, { imageSize: 4 }), (e: Error) => e instanceof DataError && e.message.includes(join(dir, 'garbage.png')) && /onCorrupt: 'skip'/.test(e.message));
    const warnings: string[] = [];
    const ds = await loadImageFolder(dir, { imageSize: 4, onCorrupt: 'skip', onWarning: (m) => warnings.push(m) });
    assert.equal(ds.length, 1);
    assert.deepEqual(ds.files, [join(dir, 'good.png')]);
    assert.equal(warnings.length, 2);
    assert.ok(warnings.some((w) => w.includes('garbage.png')) && warnings.some((w) => w.includes('truncated.png')), warnings.join('\n'));
    // Skipping must not silently leave a class without images.
    const classes = tmp();
    mkdirSync(join(classes, 'ok'));
    mkdirSync(join(classes, 'broken'));
    await writeImage(join(classes, 'ok', '1.png'), solid(4, 9), 2, 2, 1);
    writeFileSync(join(classes, 'broken', '1.png'), 'garbage');
    await assert.rejects(loadImageFolder(classes, { imageSize: 2, onCorrupt: 'skip', onWarning: () => {} }), /class folder\(s\) .*broken have no decodable images/);
  });

  it('a dangling link, a link loop, an empty file or a bomb fails naming the entry (skippable); folders and pipes named *.png are left out with a warning', async () => {
    // Issue 14, failure 7: a dangling symlink gave a raw ENOENT stack.
    const dir = tmp();
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    await writeImage(join(dir, 'a', 'good.png'), solid(4 * 4, 200), 4, 4, 1);
    await writeImage(join(dir, 'b', 'good.png'), solid(4 * 4, 100), 4, 4, 1);
    symlinkSync(join(dir, 'a', 'deleted.png'), join(dir, 'a', 'dangling.png'));
    const bad = async (entry: string, re: RegExp): Promise<void> => {
      await assert.rejects(loadImageFolder(dir, { imageSize: 4 }), (e: Error) => e instanceof DataError && e.message.startsWith(`image ${join(dir, entry)} `) && re.test(e.message) && /\(fix or remove it, or pass onCorrupt: 'skip' to leave such files out\)$/.test(e.message), entry);
    };
    await bad(join('a', 'dangling.png'), /is a symbolic link to a file that does not exist \(a dangling link\)/);
    // The hint names the caller's way of skipping (the CLI's train passes --skip-corrupt).
    await assert.rejects(loadImageFolder(dir, { imageSize: 4, skipHint: '--skip-corrupt' }), /\(fix or remove it, or pass --skip-corrupt to leave such files out\)$/);
    rmSync(join(dir, 'a', 'dangling.png'));
    symlinkSync(join(dir, 'a', 'loop2.png'), join(dir, 'a', 'loop1.png'));
    symlinkSync(join(dir, 'a', 'loop1.png'), join(dir, 'a', 'loop2.png'));
    await bad(join('a', 'loop1.png'), /a link loop/);
    rmSync(join(dir, 'a', 'loop1.png'));
    rmSync(join(dir, 'a', 'loop2.png'));
    writeFileSync(join(dir, 'b', 'empty.png'), '');
    await bad(join('b', 'empty.png'), /is empty \(0 bytes\)/);
    rmSync(join(dir, 'b', 'empty.png'));
    writeFileSync(join(dir, 'b', 'bomb.png'), bombPng(16000, 16000));
    await bad(join('b', 'bomb.png'), /its header claims 16000x16000 pixels/);
    // Skipped, each named in a warning; the folder and the pipe named like images too.
    symlinkSync(join(dir, 'a', 'deleted.png'), join(dir, 'a', 'dangling.png'));
    mkdirSync(join(dir, 'b', 'folder.png'));
    execFileSync('mkfifo', [join(dir, 'b', 'fifo.png')]);
    const warnings: string[] = [];
    const ds = await loadImageFolder(dir, { imageSize: 4, onCorrupt: 'skip', onWarning: (m) => warnings.push(m) });
    assert.deepEqual(ds.files, [join(dir, 'a', 'good.png'), join(dir, 'b', 'good.png')]);
    assert.equal(warnings.length, 4, warnings.join('\n'));
    for (const entry of ['a/dangling.png', 'b/bomb.png', 'b/fifo.png', 'b/folder.png']) assert.ok(warnings.some((w) => w.startsWith('skipping') && w.includes(join(dir, entry))), entry);
    // A folder or pipe named like an image never stopped a load and still does not (only a warning).
    rmSync(join(dir, 'a', 'dangling.png'));
    rmSync(join(dir, 'b', 'bomb.png'));
    const quiet: string[] = [];
    assert.equal((await loadImageFolder(dir, { imageSize: 4, onWarning: (m) => quiet.push(m) })).length, 2);
    assert.equal(quiet.length, 2);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a folder whose decoded images would not fit the memory budget is refused before decoding', async () => {
    const dir = tmp();
    for (let i = 0; i < 3; i++) await writeImage(join(dir, `${i}.png`), solid(4 * 4, 9), 4, 4, 1);
    setMaxMemory(3 * 64 * 64 * 4 - 1);
    try {
      await assert.rejects(loadImageFolder(dir, { imageSize: 64 }), (e: Error) => e instanceof MemoryBudgetError && e.message.startsWith(`image folder ${dir} would need about 48.0 KiB of memory (3 images x 64x64x1 x 4 bytes (float32, held in memory))`) && /use fewer images or a smaller image size/.test(e.message));
      setMaxMemory(3 * 64 * 64 * 4);
      assert.equal((await loadImageFolder(dir, { imageSize: 64 })).length, 3);
    } finally {
      setMaxMemory(null);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('empty folders, empty class folders, mixed channels and mixed layouts fail before any decoding', async () => {
    const empty = tmp();
    await assert.rejects(loadImageFolder(empty, { imageSize: 4 }), (e: Error) => e instanceof DataError && /has no images .* and no class folders/.test(e.message));

    const noImages = tmp();
    mkdirSync(join(noImages, 'a'));
    mkdirSync(join(noImages, 'b'));
    await writeImage(join(noImages, 'a', '1.png'), solid(4, 9), 2, 2, 1);
    writeFileSync(join(noImages, 'b', 'readme.md'), '#');
    await assert.rejects(loadImageFolder(noImages, { imageSize: 2 }), (e: Error) => e instanceof DataError && e.message.includes(`class folder ${join(noImages, 'b')} has no images`));

    const mixed = tmp();
    await writeImage(join(mixed, 'g.png'), solid(4, 9), 2, 2, 1);
    await writeImage(join(mixed, 'c.png'), solid(12, 9), 2, 2, 3);
    await assert.rejects(loadImageFolder(mixed, { imageSize: 2 }), (e: Error) => e instanceof DataError && /mixes channel counts: 1 grayscale .*g\.png.* and 1 colour .*c\.png/.test(e.message));

    const layout = tmp();
    mkdirSync(join(layout, 'k'));
    await writeImage(join(layout, 'k', '1.png'), solid(4, 9), 2, 2, 1);
    await writeImage(join(layout, 'loose.png'), solid(4, 9), 2, 2, 1);
    await assert.rejects(loadImageFolder(layout, { imageSize: 2 }), /mixes class folders \(k\) and loose images \(loose\.png\)/);

    await assert.rejects(loadImageFolder(join(empty, 'nope'), { imageSize: 2 }), /does not exist/);
    await assert.rejects(loadImageFolder(empty, { imageSize: 0 }), (e: Error) => e instanceof ArgumentError && /imageSize must be a positive integer/.test(e.message));
  });

  it('loadDataset dispatches names and folder paths with clear errors', async () => {
    const dir = tmp();
    await writeImage(join(dir, 'a.png'), solid(4, 9), 2, 2, 1);
    const ds = await loadDataset(dir, { imageSize: 2 });
    assert.equal(ds.length, 1);
    await assert.rejects(loadDataset(dir), /imageSize is required for the image folder/);
    await assert.rejects(loadDataset('fashion-mnist', { imageSize: 32 }), /images are 28x28, found imageSize 32/);
    await assert.rejects(loadDataset('cifar10'), /'cifar10' is neither a bundled dataset .* nor an existing folder/);
    await assert.rejects(loadDataset('mnist', { split: 'val' as 'train' }), /split must be 'train', 'test' or 'all', found "val"/);
    const m = await loadDataset('mnist', { split: 'test' });
    assert.equal(m.length, 1000);
  });
});
