/**
 * UNet2DModel on tiny configs: native vs reference forward + backward, structure (names, skip
 * channels, attention heads), options (class embedding, scale_shift, center_input_sample,
 * dropout, attention_head_dim None, DDPM-style configs), config validation and input errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UNet2DModel, resolveConfig, configFromJSON, configToJSON, ConfigError, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { mulScalar, addScalar } from '../../src/ops/scalar.js';
import { mseLoss } from '../../src/ops/loss.js';
import { ArgumentError, DTypeError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { randTensor } from '../helpers/data.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** A 2-level U-Net small enough for tests: 8 and 12 channels, attention at the bottom level. */
const TINY: Partial<UNet2DConfig> = {
  inChannels: 2,
  outChannels: 3,
  blockOutChannels: [8, 12],
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'],
  upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'],
  layersPerBlock: 1,
  normNumGroups: 4,
  attentionHeadDim: 4,
};

describe('UNet2DModel (tiny configs)', () => {
  it('native matches reference: forward and every gradient (batch 1, H != W, classes, scale_shift)', () => {
    assertBackendsAgree(() => {
      const model = new UNet2DModel({ ...TINY, numClassEmbeds: 3, resnetTimeScaleShift: 'scale_shift' });
      const x = randTensor([1, 6, 4, 2], 1, { requiresGrad: true });
      const y = model.forward(x, [37.5], [2]);
      mseLoss(y, randTensor([1, 6, 4, 3], 2)).backward();
      // to_k.bias gradients are rounding noise around 0 (see the Attention tests): not compared.
      return [y, x.grad!, ...model.namedParameters().filter(([n]) => !n.endsWith('to_k.bias')).map(([, p]) => p.grad!)];
    }, { nmseTol: 1e-9, absTol: 1e-5 });
  });

  it('gradient check of the whole U-Net (float64): the input and a parameter from every kind of part', () => {
    const model = new UNet2DModel({ ...TINY, numClassEmbeds: 2, resnetTimeScaleShift: 'scale_shift', attnNormNumGroups: 2 }).to('float64');
    // Random norm parameters too (their init, 1 and 0, would hide errors).
    model.parameters().forEach((p, i) => hostBuffer(p).set(hostBuffer(randTensor([p.size], 100 + i, { lo: -0.5, hi: 0.5, dtype: 'float64' }))));
    const names = [
      'conv_in.bias', 'time_embedding.linear_1.bias', 'class_embedding.weight', 'down_blocks.0.downsamplers.0.conv.bias',
      'down_blocks.1.attentions.0.to_q.bias', 'mid_block.attentions.0.group_norm.weight', 'mid_block.resnets.1.time_emb_proj.bias',
      'up_blocks.0.resnets.1.conv_shortcut.bias', 'up_blocks.0.upsamplers.0.conv.bias', 'up_blocks.1.resnets.0.norm1.bias', 'conv_norm_out.weight', 'conv_out.bias',
    ];
    const named = new Map(model.namedParameters());
    gradcheck(
      (x, ...ps) => {
        names.forEach((n, i) => model.setParameter(n, ps[i]!));
        return model.forward(x, [3, 250], [1, 0]);
      },
      [randTensor([2, 2, 4, 2], 9), ...names.map((n) => named.get(n)!)],
    );
  });

  it('NaN in one input sample makes only that sample NaN, on both backends', () => {
    const { native, reference } = assertBackendsAgree(() => {
      const model = new UNet2DModel(TINY);
      const x = randTensor([2, 4, 6, 2], 8);
      hostBuffer(x)[3] = NaN;
      return noGrad(() => model.forward(x, [1, 2]));
    });
    for (const y of [native[0]!, reference[0]!]) {
      const half = y.size / 2;
      assert.ok(hostBuffer(y).subarray(0, half).every(Number.isNaN));
      assert.ok(hostBuffer(y).subarray(half).every(Number.isFinite));
    }
  });

  it('has the block structure of diffusers: skip channels, attention heads, parameter names', () => {
    const model = new UNet2DModel({ ...TINY, layersPerBlock: 2 });
    const names = model.namedParameters().map(([n]) => n);
    assert.equal(names[0], 'conv_in.weight');
    assert.ok(names.includes('down_blocks.0.downsamplers.0.conv.weight'));
    assert.ok(!names.some((n) => n.startsWith('down_blocks.1.downsamplers')), 'the last down block does not downsample');
    assert.ok(names.includes('up_blocks.0.upsamplers.0.conv.weight'));
    assert.ok(names.includes('mid_block.attentions.0.to_out.0.weight'));
    assert.ok(names.indexOf('up_blocks.1.resnets.0.norm1.weight') < names.indexOf('mid_block.attentions.0.group_norm.weight'), 'mid_block registered after up_blocks');
    // up block i has layers_per_block + 1 resnets; the last one eats the skip of the level's input.
    assert.equal(model.up_blocks.at(0).resnets.length, 3);
    assert.deepEqual(model.up_blocks.at(1).resnets.items.map((r) => r.inChannels), [12 + 8, 8 + 8, 8 + 8]);
    assert.deepEqual(model.up_blocks.at(0).resnets.items.map((r) => r.inChannels), [12 + 12, 12 + 12, 12 + 8]);
    assert.equal(model.mid_block.attentions!.at(0).heads, 3);
    // attention_head_dim None: one head over all channels
    const one = new UNet2DModel({ ...TINY, attentionHeadDim: null });
    assert.equal(one.mid_block.attentions!.at(0).heads, 1);
    assert.equal(one.mid_block.attentions!.at(0).dimHead, 12);
  });

  it('scale_shift without attn_norm_num_groups gives the mid-block attention no GroupNorm, as diffusers', () => {
    const m = new UNet2DModel({ ...TINY, resnetTimeScaleShift: 'scale_shift' });
    assert.equal(m.mid_block.attentions!.at(0).group_norm, null);
    assert.notEqual(m.down_blocks.at(1).attentions!.at(0).group_norm, null);
    assert.notEqual(new UNet2DModel({ ...TINY, resnetTimeScaleShift: 'scale_shift', attnNormNumGroups: 2 }).mid_block.attentions!.at(0).group_norm, null);
    assert.equal(new UNet2DModel({ ...TINY, addAttention: false }).mid_block.attentions, null);
  });

  it('closed form: center_input_sample feeds 2x - 1; a timestep number equals the same value per sample', () => {
    const plain = new UNet2DModel(TINY);
    const centred = new UNet2DModel({ ...TINY, centerInputSample: true });
    centred.loadStateDict(plain.stateDict());
    const x = randTensor([2, 4, 4, 2], 3, { lo: 0, hi: 1 });
    noGrad(() => {
      assertClose(hostBuffer(centred.forward(x, 10)), hostBuffer(plain.forward(addScalar(mulScalar(x, 2), -1), [10, 10])), { nmseTol: 1e-14 });
    });
  });

  it('class labels change the output; the same seed builds the same model; eval forward is deterministic', () => {
    const a = new UNet2DModel({ ...TINY, numClassEmbeds: 4 }, { gen: new Generator(5) });
    const b = new UNet2DModel({ ...TINY, numClassEmbeds: 4 }, { gen: new Generator(5) });
    a.parameters().forEach((p, i) => assert.deepEqual(hostBuffer(p), hostBuffer(b.parameters()[i]!)));
    const x = randTensor([2, 4, 4, 2], 4);
    noGrad(() => {
      const y0 = a.forward(x, [5, 5], [0, 1]);
      const y1 = a.forward(x, [5, 5], [1, 1]);
      assert.deepEqual(hostBuffer(y0).subarray(y0.size / 2), hostBuffer(y1).subarray(y1.size / 2), 'sample 1 has the same label');
      assert.notDeepEqual(hostBuffer(y0).subarray(0, y0.size / 2), hostBuffer(y1).subarray(0, y1.size / 2));
    });
    // class_embed_type 'timestep': the label goes through the sinusoidal embedding + an MLP
    const t = new UNet2DModel({ ...TINY, classEmbedType: 'timestep' });
    assert.ok(t.namedParameters().some(([n]) => n === 'class_embedding.linear_2.weight'));
    assert.deepEqual(noGrad(() => t.forward(x, 3, [7, 8])).shape, [2, 4, 4, 3]);
  });

  it('dropout is active in training mode only, with masks from the model generator', () => {
    const m = new UNet2DModel({ ...TINY, dropout: 0.5 }, { dropoutGenerator: new Generator(9) });
    const x = randTensor([1, 4, 4, 2], 5);
    noGrad(() => {
      m.eval();
      assert.deepEqual(hostBuffer(m.forward(x, 1)), hostBuffer(m.forward(x, 1)));
      m.train();
      const a = m.forward(x, 1);
      const b = m.forward(x, 1);
      assert.notDeepEqual(hostBuffer(a), hostBuffer(b));
      m.setDropoutGenerator(new Generator(9));
      assert.deepEqual(hostBuffer(m.forward(x, 1)), hostBuffer(a), 'the same generator state gives the same masks');
    });
  });

  it('DDPM-style config (downsample_padding 0, flip_sin_to_cos false, freq_shift 1, eps 1e-6, head dim None) runs on odd channel counts', () => {
    const m = new UNet2DModel({
      inChannels: 3, outChannels: 3, blockOutChannels: [6, 10, 10], layersPerBlock: 1, normNumGroups: 2,
      downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
      attentionHeadDim: null, downsamplePadding: 0, flipSinToCos: false, freqShift: 1, normEps: 1e-6,
    });
    assertBackendsAgree(() => noGrad(() => m.forward(randTensor([1, 8, 12, 3], 6), [999])), { nmseTol: 1e-10 });
  });

  it('unsupported config values fail naming the field and value', () => {
    const cases: [Partial<UNet2DConfig> | Record<string, unknown>, RegExp][] = [
      [{ timeEmbeddingType: 'fourier' as never }, /field 'time_embedding_type' \(timeEmbeddingType\) is "fourier"; only 'positional'/],
      [{ ...TINY, downBlockTypes: ['DownBlock2D', 'CrossAttnDownBlock2D' as never] }, /block type "CrossAttnDownBlock2D" is not supported \(supported: DownBlock2D, AttnDownBlock2D\)/],
      [{ ...TINY, upBlockTypes: ['UpBlock2D'] }, /'up_block_types'.*expected a list of 2 block types/],
      [{ ...TINY, normNumGroups: 3 }, /'norm_num_groups'.*is 3; it must divide every block_out_channels entry, and 8 is not a multiple/],
      [{ ...TINY, actFn: 'gelu' as never }, /'act_fn' \(actFn\) is "gelu"/],
      [{ ...TINY, resnetTimeScaleShift: 'spatial' as never }, /'resnet_time_scale_shift'.*"spatial"/],
      [{ ...TINY, downsampleType: 'resnet' as never }, /'downsample_type'.*"resnet"; only 'conv'/],
      [{ ...TINY, classEmbedType: 'identity' as never }, /'class_embed_type'.*"identity"/],
      [{ ...TINY, attentionHeadDim: 16 }, /'attention_head_dim'.*exceeds the 12 channels/],
      [{ ...TINY, dropout: 1 }, /'dropout'.*\[0, 1\)/],
      [{ ...TINY, bogus: 1 } as Record<string, unknown>, /unknown field 'bogus'/],
    ];
    for (const [cfg, re] of cases) assert.throws(() => resolveConfig(cfg as Partial<UNet2DConfig>), (e: unknown) => e instanceof ConfigError && re.test(e.message), String(re));
    assert.throws(() => configFromJSON({ _class_name: 'UNet2DConditionModel' }), /'_class_name' is "UNet2DConditionModel"/);
  });

  it('config.json round trip: snake_case keys, every field, unknown keys ignored', () => {
    const c = resolveConfig({ ...TINY, numClassEmbeds: 3 });
    const json = configToJSON(c);
    assert.equal(json['_class_name'], 'UNet2DModel');
    assert.deepEqual(json['block_out_channels'], [8, 12]);
    assert.equal(json['num_class_embeds'], 3);
    assert.deepEqual(configFromJSON({ ...json, some_future_field: true }), c);
  });

  it('rejects bad inputs with messages naming the argument', () => {
    const m = new UNet2DModel({ ...TINY, numClassEmbeds: 3 });
    const x = randTensor([2, 4, 4, 2], 7);
    assert.throws(() => m.forward(randTensor([2, 4, 4, 3], 1), 1, [0, 0]), (e: unknown) => e instanceof ShapeError && /expected \(N, H, W, 2\)/.test(e.message));
    assert.throws(() => m.forward(randTensor([1, 5, 4, 2], 1), 1, [0]), /height and width must be multiples of 2.*found 5x4/);
    assert.throws(() => m.forward(x, 1), (e: unknown) => e instanceof ArgumentError && /has a class embedding \(num_class_embeds = 3\); pass classLabels/.test(e.message));
    assert.throws(() => m.forward(x, 1, [0, 3]), /class label 1 is 3, expected an integer in \[0, 2\]/);
    assert.throws(() => m.forward(x, [1, 2, 3], [0, 0]), /3 timesteps for a batch of 2/);
    assert.throws(() => new UNet2DModel(TINY).forward(x, 1, [0, 0]), /this model has no class embedding/);
    assert.throws(() => m.forward(randTensor([2, 4, 4, 2], 1, { dtype: 'float64' }), 1, [0, 0]), DTypeError);
  });
});
