/**
 * The evaluation feature network: a small convolutional classifier whose penultimate layer (the
 * global average of its last feature map) is the feature space of the sample-quality metrics
 * (Frechet distance, KID, precision/recall), in the role Inception-v3's pool3 plays for FID
 * (Heusel et al. 2017) on natural images. Trained per dataset (train-feature-net), shipped under
 * models/feature-nets/<dataset>/, and reused untrained as the CAS classifier (Ravuri & Vinyals 2019).
 *
 * Architecture (channels [c0, c1, ..., cL], GroupNorm + SiLU after every conv, so outputs never
 * depend on the batch):
 *   conv_in 3x3 (in -> c0) at full resolution;
 *   per level l >= 1: a stride-2 3x3 conv (c_{l-1} -> c_l) then a 3x3 conv (c_l -> c_l);
 *   features = spatial mean of the last map (N, cL); logits = head(features) (N, K).
 * Folder: config.json (below) and model.safetensors (PyTorch names and OIHW conv weights).
 */
import { parseConfig, configToJson } from '../schema/config.js';
import { arrayField, described, intField } from '../schema/field.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { mean } from '../ops/reduce.js';
import { UNET2D_BOUNDS } from '../nn/unet_2d.js';
import { sliceBatch } from '../ops/slice.js';
import { Module, ModuleList } from '../nn/module.js';
import { Conv2d, GroupNorm, Linear, withoutInit } from '../nn/layers.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { makeDir, unlinkFile } from '../io/file_ops.js';
import { cleanStaleTemps } from '../io/atomic.js';
import { CheckpointError, ohwiToOihw, oihwToOhwi, readJSONFile, writeJSONAtomic } from '../io/checkpoint.js';
import { checkFiniteWeights, type NonfiniteOptions } from '../io/nonfinite.js';
import { argmaxRows } from './cross_entropy.js';

/** The feature net's shape; written to config.json with snake_case keys. */
export interface FeatureNetConfig {
  /** Side of the square input images. */
  imageSize: number;
  inChannels: number;
  numClasses: number;
  /** Output channels of conv_in, then of each stride-2 level; the last is the feature size. */
  channels: readonly number[];
  normNumGroups: number;
}

/** 28x28 grayscale, 10 classes, 128-d features: the bundled datasets' feature nets. */
export const DEFAULT_FEATURE_NET_CONFIG: Readonly<FeatureNetConfig> = Object.freeze({
  imageSize: 28,
  inChannels: 1,
  numClasses: 10,
  channels: Object.freeze([32, 64, 128]),
  normNumGroups: 8,
});

/** config.json's fields (snake_case keys; defaults DEFAULT_FEATURE_NET_CONFIG's). */
export const FEATURE_NET_FIELDS = {
  imageSize: described(intField('image_size', DEFAULT_FEATURE_NET_CONFIG.imageSize, 1), 'Side of the square input images.'),
  inChannels: described(intField('in_channels', DEFAULT_FEATURE_NET_CONFIG.inChannels, 1), 'Image channels.'),
  numClasses: described(intField('num_classes', DEFAULT_FEATURE_NET_CONFIG.numClasses, 1), 'Classes of the classifier head.'),
  channels: described(arrayField('channels', intField('channels', 1, 1), DEFAULT_FEATURE_NET_CONFIG.channels, 1), 'Output channels of conv_in, then of each stride-2 level; the last is the feature size.'),
  normNumGroups: described(intField('norm_num_groups', DEFAULT_FEATURE_NET_CONFIG.normNumGroups, 1), 'GroupNorm groups.'),
} as const;

export const FEATURE_NET_CONFIG_NAME = 'config.json';
export const FEATURE_NET_WEIGHTS_NAME = 'model.safetensors';

/** One resolution level: a stride-2 conv down, then a conv at the new size. */
class FeatureLevel extends Module {
  readonly down: Conv2d;
  readonly norm1: GroupNorm;
  readonly conv: Conv2d;
  readonly norm2: GroupNorm;

  constructor(cin: number, cout: number, groups: number, gen: Generator) {
    super();
    this.down = this.registerModule('down', new Conv2d(cin, cout, 3, { stride: 2, padding: 1, gen }));
    this.norm1 = this.registerModule('norm1', new GroupNorm(groups, cout));
    this.conv = this.registerModule('conv', new Conv2d(cout, cout, 3, { padding: 1, gen }));
    this.norm2 = this.registerModule('norm2', new GroupNorm(groups, cout));
  }

  forward(x: Tensor): Tensor {
    const h = this.norm1.forwardSilu(this.down.forward(x));
    return this.norm2.forwardSilu(this.conv.forward(h));
  }
}

function checkConfig(c: FeatureNetConfig): FeatureNetConfig {
  // Bounds as the U-Net's (nn/unet_2d.ts UNET2D_BOUNDS): a config.json comes from outside.
  const B = UNET2D_BOUNDS;
  const posInt = (name: string, v: unknown, max: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new ArgumentError(`FeatureNet: config '${name}' must be an integer in [1, ${max}], found ${JSON.stringify(v)}`);
  };
  posInt('imageSize', c.imageSize, B.sampleSize);
  posInt('inChannels', c.inChannels, B.ioChannels);
  posInt('numClasses', c.numClasses, B.classEmbeds);
  posInt('normNumGroups', c.normNumGroups, B.channels);
  if (!Array.isArray(c.channels) || c.channels.length < 1 || c.channels.length > B.levels) {
    throw new ArgumentError(`FeatureNet: config 'channels' must be a list of 1 to ${B.levels} channel counts, found ${c.channels.length > 20 ? `a list of ${c.channels.length}` : JSON.stringify(c.channels)}`);
  }
  c.channels.forEach((ch, i) => {
    posInt(`channels[${i}]`, ch, B.channels);
    if (ch % c.normNumGroups !== 0) throw new ArgumentError(`FeatureNet: channels[${i}] = ${ch} is not divisible by normNumGroups ${c.normNumGroups}`);
  });
  return { ...c, channels: [...c.channels] };
}

/**
 * The feature network / classifier.
 * @example
 * const net = FeatureNet.fromPretrained('models/feature-nets/fashion-mnist');
 * const { features, logits } = noGrad(() => net.forward(x)); // x (N, 28, 28, 1): (N, 128), (N, 10)
 */
export class FeatureNet extends Module {
  readonly config: Readonly<FeatureNetConfig>;
  readonly conv_in: Conv2d;
  readonly norm_in: GroupNorm;
  readonly levels: ModuleList<FeatureLevel>;
  readonly head: Linear;

  constructor(config: Partial<FeatureNetConfig> = {}, options: { gen?: Generator } = {}) {
    super();
    const c = checkConfig({ ...DEFAULT_FEATURE_NET_CONFIG, ...config });
    this.config = Object.freeze(c);
    const gen = options.gen ?? new Generator(0);
    const ch = c.channels;
    this.conv_in = this.registerModule('conv_in', new Conv2d(c.inChannels, ch[0]!, 3, { padding: 1, gen }));
    this.norm_in = this.registerModule('norm_in', new GroupNorm(c.normNumGroups, ch[0]!));
    this.levels = this.registerModule('levels', new ModuleList(ch.slice(1).map((co, i) => new FeatureLevel(ch[i]!, co, c.normNumGroups, gen))));
    this.head = this.registerModule('head', new Linear(ch[ch.length - 1]!, c.numClasses, { gen }));
  }

  /** Size of the feature vectors (the last channel count). */
  get featureDim(): number {
    return this.config.channels[this.config.channels.length - 1]!;
  }

  get dtype(): Tensor['dtype'] {
    return this.conv_in.weight.dtype;
  }

  /** x (N, S, S, C) in [-1, 1] -> features (N, D) and logits (N, K). */
  forward(x: Tensor): { features: Tensor; logits: Tensor } {
    const { imageSize: s, inChannels: c } = this.config;
    if (x.rank !== 4 || x.shape[1] !== s || x.shape[2] !== s || x.shape[3] !== c) {
      throw new ShapeError(`FeatureNet: input must be (N, ${s}, ${s}, ${c}) images, found shape ${fmtShape(x.shape)}`);
    }
    let h = this.norm_in.forwardSilu(this.conv_in.forward(x));
    for (const level of this.levels.items) h = level.forward(h);
    const features = mean(h, [1, 2]); // (N, D)
    return { features, logits: this.head.forward(features) };
  }

  /**
   * Features, logits and predicted classes of many images, `batchSize` at a time, without a graph.
   * @example const { features, predictions } = net.embed(images); // features (N * D) float32
   */
  embed(images: Tensor, batchSize = 256, onBatch?: (done: number, total: number) => void): { features: Float32Array; logits: Float32Array; predictions: Int32Array } {
    const n = images.shape[0] ?? 0;
    const d = this.featureDim;
    const k = this.config.numClasses;
    const features = new Float32Array(n * d); // (N, D)
    const logits = new Float32Array(n * k); // (N, K)
    const predictions = new Int32Array(n);
    noGrad(() => {
      for (let i = 0; i < n; i += batchSize) {
        const end = Math.min(n, i + batchSize);
        const out = this.forward(sliceBatch(images, i, end));
        features.set(out.features.toArray(), i * d);
        logits.set(out.logits.toArray(), i * k);
        predictions.set(argmaxRows(out.logits), i);
        onBatch?.(end, n);
      }
    });
    return { features, logits, predictions };
  }

  /**
   * Writes config.json and model.safetensors (conv weights OIHW, as PyTorch) into `dir`, each file
   * atomically, and so that a kill at any moment leaves the old net, no net, or the new one, never
   * a mix: the old config.json goes first, the weights follow, the config (what marks the folder
   * as a feature net) comes last.
   */
  savePretrained(dir: string): void {
    if (this.dtype !== 'float32') throw new DTypeError(`FeatureNet.savePretrained: the model is ${this.dtype}; cast it back with to('float32') first`);
    if (!existsSync(dir)) makeDir(dir);
    // Temporary files a killed earlier save left here.
    for (const name of [FEATURE_NET_CONFIG_NAME, FEATURE_NET_WEIGHTS_NAME]) cleanStaleTemps(dir, { only: name });
    const c = this.config;
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, t] of this.stateDict()) tensors.set(name, t.rank === 4 ? ohwiToOihw({ shape: t.shape, data: t.toArray() }) : { shape: t.shape, data: t.toArray() });
    unlinkFile(join(dir, FEATURE_NET_CONFIG_NAME));
    writeSafetensors(join(dir, FEATURE_NET_WEIGHTS_NAME), tensors);
    writeJSONAtomic(join(dir, FEATURE_NET_CONFIG_NAME), { _class_name: 'FeatureNet', ...configToJson(FEATURE_NET_FIELDS, c) });
  }

  /** Loads a folder written by savePretrained (evaluation mode); weights holding NaN or Inf are refused unless `allowNonfinite`. */
  static fromPretrained(dir: string, options: NonfiniteOptions = {}): FeatureNet {
    const configPath = join(dir, FEATURE_NET_CONFIG_NAME);
    if (!existsSync(configPath)) throw new CheckpointError(`${dir}: no ${FEATURE_NET_CONFIG_NAME}; expected a feature-net folder written by 'diffuse train-feature-net'`);
    const raw = readJSONFile(configPath) as Record<string, unknown>;
    if (raw === null || typeof raw !== 'object' || raw['_class_name'] !== 'FeatureNet') {
      throw new CheckpointError(`${configPath}: not a FeatureNet config (expected "_class_name": "FeatureNet")`);
    }
    let net: FeatureNet;
    try {
      const config: FeatureNetConfig = parseConfig('FeatureNet config', FEATURE_NET_FIELDS, raw);
      net = withoutInit(() => new FeatureNet(config));
    } catch (e) {
      if (e instanceof Error) e.message = `${configPath}: ${e.message}`;
      throw e;
    }
    const weightsPath = join(dir, FEATURE_NET_WEIGHTS_NAME);
    const file = readSafetensors(weightsPath);
    checkFiniteWeights(weightsPath, file.tensors, options);
    const state = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of file.tensors) state.set(name, t.shape.length === 4 ? (oihwToOhwi(t) as { shape: number[]; data: Float32Array }) : t);
    try {
      net.loadStateDict(state, { strict: true });
    } catch (e) {
      if (e instanceof Error) e.message = `${dir}: ${e.message}`;
      throw e;
    }
    return net.eval();
  }
}
