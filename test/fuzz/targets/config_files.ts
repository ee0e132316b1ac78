/**
 * Target 'config-files': the config files a user hands to a command or a loader reads on its
 * own: `diffuse train --config` (a U-Net config.json, parsed by parseTrainArgs and built as the
 * trainer does), `diffuse train-classifier --config` and a classifier folder's config.json
 * (NoisyClassifier.fromPretrained), and a feature-net folder's config.json
 * (FeatureNet.fromPretrained, the shipped MNIST one as seed).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainArgs } from '../../../src/cli/commands/train.js';
import { train } from '../../../src/train/trainer.js';
import { trainClassifier } from '../../../src/train/classifier_trainer.js';
import { NoisyClassifier, classifierConfigFromJSON, classifierConfigToJSON, resolveClassifierConfig } from '../../../src/nn/noisy_classifier.js';
import { FeatureNet } from '../../../src/eval/feature_net.js';
import { bundledFeatureNetDir } from '../../../src/io/model_folder.js';
import { readJSONFile } from '../../../src/io/checkpoint.js';
import { TINY_UNET, TinyFashion } from '../../train/fixtures.js';
import { mutateJson, namesTouched } from '../mutators/json.js';
import { expectClear } from '../invariant.js';
import type { MadeCase, RunContext, Target, Violation } from '../target.js';

type Kind = 'train-config' | 'classifier-config' | 'classifier-folder' | 'feature-net-folder';

interface Spec {
  kind: Kind;
  keys: string[];
}

/** Known hostile edits (issue 14, failures 4 and 7), taken right after the first case of each kind. */
const KNOWN: readonly { kind: Kind; set: Record<string, unknown> }[] = [
  { kind: 'train-config', set: { layers_per_block: 100000 } },
  { kind: 'train-config', set: { block_out_channels: [4194304, 4194304] } },
  { kind: 'classifier-config', set: { num_classes: 1e9 } },
  { kind: 'classifier-folder', set: { block_out_channels: [1048576, 1048576] } },
  { kind: 'feature-net-folder', set: { num_classes: 3e12 } },
];

let data: TinyFashion | null = null;
const tinyData = (): TinyFashion => (data ??= new TinyFashion(8));

const TINY_CLASSIFIER = { sampleSize: 8, inChannels: 1, blockOutChannels: [8, 16], downBlockTypes: ['DownBlock2D', 'DownBlock2D'], normNumGroups: 4, numClasses: 3 };

export const configFilesTarget: Target = {
  name: 'config-files',
  description: 'train --config (U-Net config.json), train-classifier --config, classifier and feature-net folders with config.json mutated',
  timeoutMs: 30_000,
  async prepare(ctx: RunContext) {
    writeFileSync(join(ctx.corpusDir, 'unet_config.json'), JSON.stringify({ ...TINY_UNET, dropout: 0 }, null, 2));
    const clf = new NoisyClassifier(resolveClassifierConfig(TINY_CLASSIFIER as never));
    clf.savePretrained(join(ctx.corpusDir, 'classifier'));
    writeFileSync(join(ctx.corpusDir, 'classifier_config.json'), JSON.stringify(classifierConfigToJSON(clf.config), null, 2));
    cpSync(bundledFeatureNetDir('mnist'), join(ctx.corpusDir, 'feature-net'), { recursive: true });
  },
  async make(rng, caseDir, ctx, index): Promise<MadeCase> {
    const kinds: Kind[] = ['train-config', 'classifier-config', 'classifier-folder', 'feature-net-folder'];
    // The first cases take each kind in turn; then train --config twice as often as the others.
    const known = KNOWN[index - kinds.length];
    const kind = index < kinds.length ? kinds[index]! : known !== undefined ? known.kind : rng.pick<Kind>([...kinds, 'train-config']);
    let path: string;
    switch (kind) {
      case 'train-config':
        path = join(caseDir, 'unet_config.json');
        cpSync(join(ctx.corpusDir, 'unet_config.json'), path);
        break;
      case 'classifier-config':
        path = join(caseDir, 'classifier_config.json');
        cpSync(join(ctx.corpusDir, 'classifier_config.json'), path);
        break;
      case 'classifier-folder':
        cpSync(join(ctx.corpusDir, 'classifier'), caseDir, { recursive: true });
        path = join(caseDir, 'config.json');
        break;
      case 'feature-net-folder':
        cpSync(join(ctx.corpusDir, 'feature-net'), caseDir, { recursive: true });
        path = join(caseDir, 'config.json');
        break;
    }
    const original = readFileSync(path, 'utf8');
    if (known !== undefined) {
      writeFileSync(path, JSON.stringify({ ...(JSON.parse(original) as object), ...known.set }, null, 2));
      return { spec: { kind, keys: Object.keys(known.set) } satisfies Spec, note: `${kind}: ${JSON.stringify(known.set)}` };
    }
    const m = mutateJson(rng, original);
    writeFileSync(path, m.text);
    return { spec: { kind, keys: namesTouched(m, original) } satisfies Spec, note: `${kind}: ${m.keys.slice(0, 4).join(', ') || 'root/text'} mutated` };
  },
  async run(raw, caseDir): Promise<Violation[]> {
    const spec = raw as Spec;
    const names = [caseDir, ...spec.keys.filter((k) => k.length > 2)];
    const r = await expectClear(async () => {
      switch (spec.kind) {
        case 'train-config': {
          // `diffuse train --config FILE` for one step on tiny 8x8 data.
          const o = parseTrainArgs(['--data', 'mnist', '--out', join(caseDir, 'run'), '--config', join(caseDir, 'unet_config.json'), '--steps', '1', '--batch', '2']);
          return train({ ...o, dataset: tinyData() });
        }
        case 'classifier-config': {
          const path = join(caseDir, 'classifier_config.json');
          // What `diffuse train-classifier --config FILE` does (for one step on tiny 8x8 data).
          const classifier = { ...classifierConfigFromJSON({ _class_name: 'NoisyClassifier', ...(readJSONFile(path) as object) }, path) };
          return trainClassifier({ data: 'tiny-fashion', out: join(caseDir, 'run'), classifier, steps: 1, batchSize: 2, dataset: tinyData() });
        }
        case 'classifier-folder':
          return NoisyClassifier.fromPretrained(caseDir);
        case 'feature-net-folder':
          return FeatureNet.fromPretrained(caseDir);
      }
    }, names);
    return r.violations;
  },
};
