/**
 * Nearest-neighbour 2x upsampling of NHWC images, as in the U-Net's Upsample2D (diffusers'
 * F.interpolate(scale_factor=2, mode='nearest')): y[n, 2i+a, 2j+b, c] = x[n, i, j, c] for a, b in {0, 1}.
 * Its gradient sums each 2x2 block of the incoming gradient.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectRank, expectTensor } from '../tensor/check.js';

/**
 * (N, H, W, C) -> (N, 2H, 2W, C), every pixel repeated into a 2x2 block.
 * @example upsampleNearest2x(h) // (2, 7, 7, 64) -> (2, 14, 14, 64)
 */
export function upsampleNearest2x(x: Tensor): Tensor {
  expectTensor('upsampleNearest2x', 'x', x);
  const dev = x.device;
  expectRank('upsampleNearest2x', 'x', x, 4, '(N, H, W, C)');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const y = emptyUninit([n, 2 * h, 2 * w, c], x.dtype, dev); // (N, 2H, 2W, C)
  dev.kernels.upsampleNearest2x(x.storage, n, h, w, c, y.storage);
  return recordOp('upsampleNearest2x', y, [x], (gy) => {
    const gx = emptyUninit(x.shape, x.dtype, dev); // (N, H, W, C)
    dev.kernels.upsampleNearest2xBackward(gy.storage, n, h, w, c, gx.storage);
    return [gx];
  });
}
