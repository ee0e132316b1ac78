/** Real diffusers UNet2DModel configs (config.json contents) for the bounds and memory tests. */

/** google/ddpm-cat-256 (church-256, bedroom-256 and celebahq-256 share it): diffusers' largest UNet2DModel. */
export const DDPM_256: Readonly<Record<string, unknown>> = {
  _class_name: 'UNet2DModel', act_fn: 'silu', attention_head_dim: null, block_out_channels: [128, 128, 256, 256, 512, 512], center_input_sample: false,
  down_block_types: ['DownBlock2D', 'DownBlock2D', 'DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D'], downsample_padding: 0, flip_sin_to_cos: false, freq_shift: 1,
  in_channels: 3, layers_per_block: 2, mid_block_scale_factor: 1, norm_eps: 1e-6, norm_num_groups: 32, out_channels: 3, sample_size: 256, time_embedding_type: 'positional',
  up_block_types: ['UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D', 'UpBlock2D', 'UpBlock2D'],
};

/** google/ddpm-cifar10-32. */
export const DDPM_CIFAR10: Readonly<Record<string, unknown>> = {
  ...DDPM_256, block_out_channels: [128, 256, 256, 256], down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'], sample_size: 32,
};
