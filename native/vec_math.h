// Elementwise math the compiler can vectorise, shared by the kernels that need it (norm, attention).
#pragma once
#include <cstdint>
#include <cstring>

namespace diffuse {

// exp(x) in a form the compiler vectorises (std::exp is a scalar libm call, which would make
// the fused SiLU slower than a separate pass): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
// then Cephes' expf polynomial for exp(r), scaled by 2^n built in the exponent bits. Relative
// error below 1e-7 over the whole range. Inputs above 88 give exp(88) ~ 1.7e38 (2^n must stay a
// normal float), inputs below -87.3 (where exp falls under FLT_MIN) give exactly 0, so masked
// -inf scores get probability 0; NaN passes through the clamps and the polynomial and propagates.
static inline float expVec(float x0) {
  float x = x0 > 88.0f ? 88.0f : x0;
  x = x < -87.3f ? -87.3f : x;
  // n = round(x / ln2): adding and removing 1.5 * 2^23 rounds to the nearest integer in a way
  // that vectorises (std::floor does not without -fno-trapping-math).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // The exponent field of 2^n; a NaN n is replaced first (converting NaN to int is undefined),
  // er is NaN then anyway.
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x0 < -87.3f ? 0.0f : er * scale;
}

}  // namespace diffuse
