/**
 * Target 'image-folder': `diffuse train --data DIR` folders (loadImageFolder, then every sample
 * read) and `diffuse eval --samples DIR` folders (loadSampleFolder) built from random entries: good images flat or in class folders, empty files,
 * directories named like images, dangling and looping symbolic links (files and folders),
 * unreadable files (mode 000; no effect when run as root), other formats and corrupt images under
 * image names, hidden files, odd names; with onCorrupt 'fail' or 'skip'.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImageFolder } from '../../../src/data/image_folder.js';
import { loadSampleFolder } from '../../../src/eval/sample_folder.js';
import { imageInput } from '../mutators/images.js';
import { imageCorpus } from './images.js';
import { expectClear } from '../invariant.js';
import type { Rng } from '../rng.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

interface Spec {
  reader: 'train' | 'eval';
  onCorrupt: 'fail' | 'skip';
  entries: string[];
}

const NAMES = ['a', 'b', 'img 1', 'ünï', 'x'.repeat(200), '-rf', 'IMG', '.hidden', 'new\nline'];

export const imageFolderTarget: Target = {
  name: 'image-folder',
  description: 'image folders with dangling/looping symlinks, unreadable or empty files, folders named like images, corrupt and foreign images; loadImageFolder (train) and loadSampleFolder (eval)',
  timeoutMs: 30_000,
  async prepare(ctx: RunContext) {
    await imageCorpus(ctx);
  },
  async make(rng: Rng, caseDir, ctx): Promise<MadeCase> {
    const corpus = await imageCorpus(ctx);
    const root = join(caseDir, 'data');
    mkdirSync(root);
    const classes = rng.chance(0.6) ? Array.from({ length: rng.range(1, 3) }, (_, i) => `class${i}`) : [''];
    const entries: string[] = [];
    const good = (dir: string, i: number) => {
      const img = rng.pick(corpus.valid.filter((v) => v.kind === 'png-grey' || v.kind === 'png-rgb' || v.kind === 'jpeg-grey'));
      writeFileSync(join(dir, `good${i}${img.ext}`), img.bytes);
    };
    for (const c of classes) {
      const dir = join(root, c);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < rng.range(0, 3); i++) good(dir, i);
    }
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) {
      const dir = join(root, rng.pick(classes));
      const name = `${rng.pick(NAMES)}${i}${rng.pick(['.png', '.jpg', '.jpeg', '.PNG', '.png', ''])}`;
      const p = join(dir, name);
      const what = rng.int(9);
      try {
        switch (what) {
          case 0: writeFileSync(p, Buffer.alloc(0)); entries.push(`empty file ${name}`); break;
          case 1: mkdirSync(p); entries.push(`folder named ${name}`); break;
          case 2: symlinkSync(join(caseDir, 'nowhere', name), p); entries.push(`dangling link ${name}`); break;
          case 3: symlinkSync(p, p); entries.push(`link to itself ${name}`); break;
          case 4: symlinkSync(dir, p); entries.push(`link to its own folder ${name}`); break;
          case 5: { const img = imageInput(rng, { ...corpus, bombs: [] }); writeFileSync(p, img.bytes); chmodSync(p, 0o000); entries.push(`mode 000 ${img.kind} ${name}`); break; }
          case 6: symlinkSync(root, join(root, `loop${i}`)); entries.push(`folder link loop${i} to the root`); break;
          default: { const img = imageInput(rng, { ...corpus, bombs: [] }); writeFileSync(p, img.bytes); entries.push(`${img.kind} as ${name}`); }
        }
      } catch (e) {
        entries.push(`(could not make ${name}: ${(e as Error).message})`);
      }
    }
    const onCorrupt = rng.chance(0.5) ? 'fail' : 'skip';
    const reader = rng.chance(0.7) ? 'train' : 'eval';
    return { spec: { reader, onCorrupt, entries } satisfies Spec, note: `${reader === 'train' ? `loadImageFolder, onCorrupt ${onCorrupt}` : 'loadSampleFolder'}, ${classes.length} class folder(s): ${entries.join('; ')}` };
  },
  async run(raw, caseDir): Promise<Violation[]> {
    const spec = raw as Spec;
    const root = join(caseDir, 'data');
    const r = await expectClear(async () => {
      if (spec.reader === 'eval') return (await loadSampleFolder(root, { imageSize: 8, channels: 1, classNames: ['class0', 'class1', 'class2'] })).labels.length;
      const ds = await loadImageFolder(root, { imageSize: 8, onCorrupt: spec.onCorrupt, onWarning: () => {} });
      for (let i = 0; i < ds.length; i++) ds.get(i);
      return ds.length;
    }, [root]);
    return r.violations;
  },
};
