/**
 * Target 'image': one input image file read the ways the library and the CLI read one:
 * readPng(path) (`diffuse upscale --image`, the library), decodeImage(path, { size }) (what an
 * image folder does per file) and the img2img/inpaint flag reader. Inputs: valid PNG/JPEG,
 * other formats under an image name, truncated files, headers claiming huge sizes, bombs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPng, decodeImage } from '../../../src/io/png.js';
import { readImageFlag } from '../../../src/cli/edit_flags.js';
import { buildImageCorpus, imageInput, type ImageCorpus } from '../mutators/images.js';
import { expectClear } from '../invariant.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

type Reader = 'readPng' | 'decodeImage' | 'readImageFlag';

interface Spec {
  file: string;
  reader: Reader;
  kind: string;
}

let corpus: ImageCorpus | null = null;
/** The parent's image corpus, made once per run (bombs only in heavy runs). */
export async function imageCorpus(ctx: RunContext): Promise<ImageCorpus> {
  return (corpus ??= await buildImageCorpus(ctx.heavy));
}

export const imageTarget: Target = {
  name: 'image',
  description: 'input image files (PNG/JPEG, truncated, foreign formats, huge headers, bombs) through readPng, decodeImage and the --image flag reader',
  timeoutMs: 30_000,
  async prepare(ctx: RunContext) {
    await imageCorpus(ctx);
  },
  async make(rng, caseDir, ctx, index): Promise<MadeCase> {
    const corpus = await imageCorpus(ctx);
    // The first cases are the bombs, so that even a short run tries each.
    const img = index < corpus.bombs.length ? corpus.bombs[index]! : imageInput(rng, corpus, 0.05);
    const file = `input${img.ext}`;
    writeFileSync(join(caseDir, file), img.bytes);
    const reader = rng.pick<Reader>(['readPng', 'decodeImage', 'readImageFlag']);
    return { spec: { file, reader, kind: img.kind } satisfies Spec, note: `${reader} of ${img.kind} (${img.bytes.length} bytes)` };
  },
  async run(raw, caseDir): Promise<Violation[]> {
    const spec = raw as Spec;
    const path = join(caseDir, spec.file);
    const r = await expectClear(async () => {
      switch (spec.reader) {
        case 'readPng':
          return (await readPng(path)).shape;
        case 'decodeImage':
          return (await decodeImage(path, { size: 8 })).width;
        case 'readImageFlag':
          return (await readImageFlag('image', path)).shape;
      }
    }, [path]);
    return r.violations;
  },
};
