/**
 * Checkpoint folders in diffusers' layout: save/load round trips, OIHW in files vs OHWI in memory,
 * diffusers-saved folders, public DDPM checkpoints' configs and legacy attention names
 * (google/ddpm-cifar10-32 at full size), scheduler_config.json, and errors that list the keys.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNet2DModel, configFromJSON, configToJSON, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import {
  CONFIG_NAME, WEIGHTS_NAME, CheckpointError, LEGACY_ATTENTION_NAMES, ohwiToOihw, oihwToOhwi, readDiffusersConfig, readDiffusersFolder,
  readSchedulerConfig, writeDiffusersFolder, writeSchedulerConfig,
} from '../../src/io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/autograd.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { StateDictError } from '../../src/nn/module.js';
import { withoutInit } from '../../src/nn/layers.js';
import { randTensor } from '../helpers/data.js';
import { vectorPath } from '../helpers/vectors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const TINY: Partial<UNet2DConfig> = {
  inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};

/** google/ddpm-cifar10-32's config.json as published (fields it lacks take diffusers' defaults). */
const DDPM_CIFAR10_CONFIG = {
  _class_name: 'UNet2DModel', _diffusers_version: '0.1.1', act_fn: 'silu', attention_head_dim: null,
  block_out_channels: [128, 256, 256, 256], center_input_sample: false,
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'], downsample_padding: 0,
  flip_sin_to_cos: false, freq_shift: 1, in_channels: 3, layers_per_block: 2, mid_block_scale_factor: 1, norm_eps: 1e-6,
  norm_num_groups: 32, out_channels: 3, sample_size: 32, time_embedding_type: 'positional',
  up_block_types: ['UpBlock2D', 'UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
};

/** Renames to_q/to_k/to_v/to_out.0 back to the legacy query/key/value/proj_attn. */
function toLegacyNames(state: Map<string, Tensor>, asConv1x1 = false): Map<string, { shape: number[]; data: Float32Array }> {
  const back = Object.fromEntries(Object.entries(LEGACY_ATTENTION_NAMES).map(([a, b]) => [b, a]));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of state) {
    const m = /^(.*attentions\.\d+)\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name);
    // writeDiffusersFolder writes rank-4 tensors as conv weights (OHWI -> OIHW): (O, 1, 1, I) lands as (O, I, 1, 1).
    const shape = m !== null && asConv1x1 && t.rank === 2 ? [t.shape[0]!, 1, 1, t.shape[1]!] : [...t.shape];
    out.set(m === null ? name : `${m[1]}.${back[m[2]!]}.${m[3]}`, { shape, data: hostBuffer(t) as Float32Array });
  }
  return out;
}

describe('checkpoint folders', () => {
  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-ckpt-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('savePretrained -> fromPretrained round-trips config, every parameter and the output; no temp files remain', () => {
    const dir = join(root, 'roundtrip');
    const model = new UNet2DModel(TINY, { gen: new Generator(11) });
    model.savePretrained(dir);
    assert.deepEqual(readdirSync(dir).sort(), [CONFIG_NAME, WEIGHTS_NAME]);
    const loaded = UNet2DModel.fromPretrained(dir);
    assert.deepEqual(loaded.config, model.config);
    model.parameters().forEach((p, i) => assert.deepEqual(hostBuffer(loaded.parameters()[i]!), hostBuffer(p)));
    const x = randTensor([2, 4, 4, 1], 1);
    noGrad(() => assert.deepEqual(hostBuffer(loaded.forward(x, [3, 500], [0, 2])), hostBuffer(model.forward(x, [3, 500], [0, 2]))));
    // Overwriting is atomic too: a second save replaces the files in place.
    model.savePretrained(dir);
    assert.deepEqual(readdirSync(dir).sort(), [CONFIG_NAME, WEIGHTS_NAME]);
  });

  it('files hold PyTorch OIHW conv weights; memory holds OHWI', () => {
    const dir = join(root, 'layout');
    const model = new UNet2DModel(TINY);
    model.savePretrained(dir);
    const file = readSafetensors(join(dir, WEIGHTS_NAME));
    const w = model.conv_in.weight; // (O, KH, KW, I) = (4, 3, 3, 1)
    const f = file.tensors.get('conv_in.weight')!;
    assert.deepEqual(f.shape, [4, 1, 3, 3]);
    const conv1 = model.down_blocks.at(0).resnets.at(0).conv1.weight; // (4, 3, 3, 4)
    const g = file.tensors.get('down_blocks.0.resnets.0.conv1.weight')!; // (4, 4, 3, 3)
    for (const [o, i, y, x] of [[1, 2, 0, 1], [3, 0, 2, 2], [0, 3, 1, 0]] as const) {
      assert.equal(g.data[((o * 4 + i) * 3 + y) * 3 + x], hostBuffer(conv1)[((o * 3 + y) * 3 + x) * 4 + i]);
    }
    assert.deepEqual(f.data, ohwiToOihw({ shape: w.shape, data: hostBuffer(w) }).data);
    assert.deepEqual(oihwToOhwi(ohwiToOihw({ shape: conv1.shape, data: hostBuffer(conv1) })).data, hostBuffer(conv1));
    assert.deepEqual(file.tensors.get('time_embedding.linear_1.weight')!.shape, [16, 4], 'linear weights keep (out, in)');
  });

  it('a diffusers-saved folder loads with its config; its conv weights are transposed OIHW -> OHWI', () => {
    const dir = vectorPath('unet_small_uncond');
    const { config, tensors } = readDiffusersFolder(dir);
    assert.equal(config['_diffusers_version'], '0.25.1');
    const raw = readSafetensors(join(dir, WEIGHTS_NAME)).tensors.get('conv_in.weight')!; // (32, 1, 3, 3)
    const ours = tensors.get('conv_in.weight')!;
    assert.deepEqual(ours.shape, [32, 3, 3, 1]);
    assert.equal(ours.data[(5 * 3 + 2) * 3 + 1], raw.data[(5 * 3 + 2) * 3 + 1], 'with I = 1 OIHW and OHWI coincide element-wise');
    const model = UNet2DModel.fromPretrained(dir);
    assert.equal(model.class_embedding, null);
    assert.equal(model.config.attentionHeadDim, 8);
  });

  it('loading a diffusers folder and saving it again reproduces its config.json and every tensor exactly', () => {
    const src = vectorPath('unet_small_cond');
    const dir = join(root, 'resaved');
    UNet2DModel.fromPretrained(src).savePretrained(dir);
    assert.deepEqual(readDiffusersConfig(dir), readDiffusersConfig(src));
    const a = readSafetensors(join(src, WEIGHTS_NAME)).tensors;
    const b = readSafetensors(join(dir, WEIGHTS_NAME)).tensors;
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, t] of a) {
      assert.deepEqual(b.get(name)!.shape, t.shape, name);
      assert.deepEqual(b.get(name)!.data, t.data, name);
    }
  });

  it('google/ddpm-cifar10-32 at full size: its config and legacy attention names (query, key, value, proj_attn) load', () => {
    const dir = join(root, 'ddpm-cifar10-32');
    // Random weights come from one draw below; skip the per-layer initialisation (36M values).
    const model = withoutInit(() => new UNet2DModel(configFromJSON(DDPM_CIFAR10_CONFIG)));
    assert.equal(model.numParameters(), 35_746_307, "the published checkpoint's parameter count");
    assert.equal(model.down_blocks.at(1).attentions!.at(0).heads, 1, 'attention_head_dim null: one head');
    assert.deepEqual(model.down_blocks.at(0).downsamplers!.at(0).conv.options.padding, [0, 1, 0, 1]);
    // Random weights (one draw, sliced) saved under the legacy names with the published config.json.
    const all = new Generator(4).uniform([model.numParameters()]);
    let off = 0;
    for (const p of model.parameters()) {
      hostBuffer(p).set(hostBuffer(all).subarray(off, off + p.size));
      off += p.size;
    }
    const legacy = toLegacyNames(model.stateDict());
    assert.ok(legacy.has('mid_block.attentions.0.query.weight') && legacy.has('up_blocks.2.attentions.1.proj_attn.bias'));
    writeDiffusersFolder(dir, DDPM_CIFAR10_CONFIG, legacy);
    const loaded = UNet2DModel.fromPretrained(dir);
    assert.equal(loaded.config.freqShift, 1);
    assert.equal(loaded.config.flipSinToCos, false);
    assert.equal(loaded.config.normEps, 1e-6);
    assert.equal(loaded.config.attentionHeadDim, null);
    const named = new Map(loaded.namedParameters());
    for (const [name, p] of model.namedParameters()) assert.deepEqual(hostBuffer(named.get(name)!), hostBuffer(p), name);
  });

  it('legacy attention weights stored as 1x1 convs (O, I, 1, 1) load as Linear weights; the output is unchanged', () => {
    const dir = join(root, 'legacy-conv1x1');
    const model = new UNet2DModel({ ...TINY, attentionHeadDim: null, downsamplePadding: 0, flipSinToCos: false, freqShift: 1 });
    writeDiffusersFolder(dir, configToJSON(model.config as UNet2DConfig), toLegacyNames(model.stateDict(), true));
    assert.deepEqual(readSafetensors(join(dir, WEIGHTS_NAME)).tensors.get('mid_block.attentions.0.key.weight')!.shape, [8, 8, 1, 1]);
    const loaded = UNet2DModel.fromPretrained(dir);
    const x = randTensor([1, 4, 4, 1], 2);
    noGrad(() => assert.deepEqual(hostBuffer(loaded.forward(x, 7, [1])), hostBuffer(model.forward(x, 7, [1]))));
  });

  it('missing, unexpected and mis-shaped keys fail with a message listing them', () => {
    const dir = join(root, 'bad-keys');
    const model = new UNet2DModel(TINY);
    const state = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [n, t] of model.stateDict()) state.set(n, { shape: t.shape, data: hostBuffer(t) as Float32Array });
    state.delete('conv_out.bias');
    state.delete('mid_block.resnets.1.norm2.weight');
    state.set('mid_block.extra.weight', { shape: [2], data: new Float32Array(2) });
    state.set('conv_in.bias', { shape: [5], data: new Float32Array(5) });
    writeDiffusersFolder(dir, configToJSON(model.config as UNet2DConfig), state);
    assert.throws(
      () => UNet2DModel.fromPretrained(dir),
      (e: unknown) =>
        e instanceof StateDictError &&
        e.message.startsWith(dir) &&
        /missing keys \(2\): mid_block\.resnets\.1\.norm2\.weight, conv_out\.bias/.test(e.message) &&
        /unexpected keys \(1\): mid_block\.extra\.weight/.test(e.message) &&
        /shape mismatches \(1\): conv_in\.bias \(expected \[4\], found \[5\]\)/.test(e.message),
    );
  });

  it('folder errors name the path and the fix', () => {
    assert.throws(() => UNet2DModel.fromPretrained(join(root, 'nope')), (e: unknown) => e instanceof CheckpointError && /no such checkpoint folder/.test(e.message));
    const dir = join(root, 'partial');
    mkdirSync(dir);
    assert.throws(() => UNet2DModel.fromPretrained(dir), /missing config\.json/);
    writeFileSync(join(dir, CONFIG_NAME), '{ not json');
    assert.throws(() => UNet2DModel.fromPretrained(dir), /config\.json: not valid JSON/);
    writeFileSync(join(dir, CONFIG_NAME), JSON.stringify(configToJSON(new UNet2DModel(TINY).config as UNet2DConfig)));
    writeFileSync(join(dir, 'diffusion_pytorch_model.bin'), 'pickle');
    assert.throws(() => UNet2DModel.fromPretrained(dir), /missing diffusion_pytorch_model\.safetensors \(found .*\.bin, a PyTorch pickle/);
    // The config is validated before the (possibly large) weights are read.
    writeFileSync(join(dir, CONFIG_NAME), JSON.stringify({ ...DDPM_CIFAR10_CONFIG, time_embedding_type: 'fourier' }));
    assert.throws(() => UNet2DModel.fromPretrained(dir), /partial\/config\.json: .*'time_embedding_type'.*"fourier"/);
  });

  it('a checkpoint holding both a legacy name and its modern name is refused', () => {
    const dir = join(root, 'both-names');
    const model = new UNet2DModel(TINY);
    model.savePretrained(dir);
    const file = readSafetensors(join(dir, WEIGHTS_NAME));
    const t = file.tensors.get('mid_block.attentions.0.to_q.bias')!;
    const tensors = new Map([...file.tensors].map(([n, v]) => [n, { shape: v.shape, data: v.data }]));
    tensors.set('mid_block.attentions.0.query.bias', { shape: t.shape, data: t.data });
    writeSafetensors(join(dir, WEIGHTS_NAME), tensors);
    assert.throws(() => UNet2DModel.fromPretrained(dir), /both the legacy 'mid_block\.attentions\.0\.query\.bias' and 'mid_block\.attentions\.0\.to_q\.bias'/);
  });

  it('scheduler_config.json round-trips beside the model', () => {
    const dir = join(root, 'with-scheduler');
    const model = new UNet2DModel(TINY);
    model.savePretrained(dir);
    const cfg = { _class_name: 'DDPMScheduler', num_train_timesteps: 1000, beta_schedule: 'linear', prediction_type: 'epsilon' };
    writeSchedulerConfig(dir, cfg);
    assert.deepEqual(readSchedulerConfig(dir), cfg);
    assert.ok(existsSync(join(dir, CONFIG_NAME)));
    assert.throws(() => readSchedulerConfig(join(root, 'roundtrip')), /missing scheduler_config\.json/);
    // A diffusers folder copied elsewhere still loads (nothing depends on its location).
    const copy = join(root, 'copy');
    mkdirSync(copy);
    for (const f of [CONFIG_NAME, WEIGHTS_NAME]) copyFileSync(join(vectorPath('unet_small_cond'), f), join(copy, f));
    assert.equal(UNet2DModel.fromPretrained(copy).config.numClassEmbeds, 10);
  });
});
