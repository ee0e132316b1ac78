// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011), the generator PyTorch, JAX and cuRAND use.
// Element i of a draw comes from counter (offset + floor(i/4)), lane i % 4, with the 64-bit seed
// as key, so the result does not depend on the thread count. The TypeScript twin is
// src/backend/reference/random.ts; both must stay bit-identical for uniforms.
#include <cmath>
#include <cstdint>
#include "common.h"

namespace diffuse {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kRandomParallelMin = 1 << 14;

// Philox4x32 multipliers and Weyl key increments (Random123's PHILOX_M4x32_* / PHILOX_W32_*).
constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

// 2^-32 and 2^-24: scale 32-bit words to [0, 1).
constexpr double kTwoPowMinus32 = 1.0 / 4294967296.0;
constexpr float kTwoPowMinus24 = 1.0f / 16777216.0f;
constexpr double kTwoPi = 6.283185307179586476925286766559;

struct Block {
  uint32_t v[4];
};

// One Philox4x32-10 block: 10 rounds of two 32x32->64 multiplies, key bumped between rounds.
static inline Block philox4x32_10(Block c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < kPhiloxRounds; ++r) {
    if (r > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c.v[0];
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c.v[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c = Block{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
  }
  return c;
}

// The block for counter number offset + j (a 64-bit counter in words 0-1; words 2-3 stay 0).
static inline Block blockAt(uint64_t offset, uint64_t j, uint32_t k0, uint32_t k1) {
  const uint64_t c = offset + j;
  return philox4x32_10(Block{{static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0u, 0u}}, k0, k1);
}

// A uint32 held in a JS number (seed and offset halves).
static uint32_t u32NumArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  const int64_t v = intArg(info, i, op, name, 0);
  require(v <= 0xFFFFFFFFll, std::string(op) + ": argument '" + name + "' must be an integer in [0, 2^32), found " +
                                 std::to_string(v));
  return static_cast<uint32_t>(v);
}

// A Uint32Array argument of exactly `expected` elements (only the raw-block entry point uses one).
static uint32_t* u32Arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, size_t expected) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be a Uint32Array, found " +
                       (i < info.Length() ? describe(info[i]) : std::string("nothing")),
                   true);
  }
  auto a = info[i].As<Napi::Uint32Array>();
  if (a.ElementLength() != expected) {
    throw ArgError(std::string(op) + ": argument '" + name + "' has " + std::to_string(a.ElementLength()) +
                       " elements, expected " + std::to_string(expected),
                   false);
  }
  return a.Data();
}

// philox4x32(counter: Uint32Array(4), key: Uint32Array(2), out: Uint32Array(4)): one raw block,
// for the Random123 known-answer tests.
static Napi::Value Philox4x32(const Napi::CallbackInfo& info) {
  return guard(info, "philox4x32", [&] {
    const uint32_t* ctr = u32Arg(info, 0, "philox4x32", "counter", 4);
    const uint32_t* key = u32Arg(info, 1, "philox4x32", "key", 2);
    uint32_t* out = u32Arg(info, 2, "philox4x32", "out", 4);
    const Block b = philox4x32_10(Block{{ctr[0], ctr[1], ctr[2], ctr[3]}}, key[0], key[1]);
    for (int k = 0; k < 4; ++k) out[k] = b.v[k];
  });
}

struct DrawArgs {
  F32 out;
  uint32_t k0, k1;
  uint64_t offset;
};

static DrawArgs drawArgs(const Napi::CallbackInfo& info, const char* op) {
  DrawArgs a{f32Arg(info, 0, op, "out"), u32NumArg(info, 1, op, "keyLo"), u32NumArg(info, 2, op, "keyHi"), 0};
  const uint32_t lo = u32NumArg(info, 3, op, "offsetLo");
  const uint32_t hi = u32NumArg(info, 4, op, "offsetHi");
  a.offset = (static_cast<uint64_t>(hi) << 32) | lo;
  return a;
}

// philoxUniform(out, keyLo, keyHi, offsetLo, offsetHi): out[i] = (word >> 8) * 2^-24 in [0, 1),
// exact in float32 (the top 24 bits of the word).
static Napi::Value PhiloxUniform(const Napi::CallbackInfo& info) {
  return guard(info, "philoxUniform", [&] {
    const DrawArgs a = drawArgs(info, "philoxUniform");
    const int64_t n = static_cast<int64_t>(a.out.size);
    const int64_t blocks = (n + 3) / 4;
    float* o = a.out.data;
#pragma omp parallel for schedule(static) if (n > kRandomParallelMin)
    for (int64_t j = 0; j < blocks; ++j) {
      const Block b = blockAt(a.offset, static_cast<uint64_t>(j), a.k0, a.k1);
      const int64_t base = 4 * j;
      const int64_t m = n - base < 4 ? n - base : 4;
      for (int64_t k = 0; k < m; ++k) o[base + k] = static_cast<float>(b.v[k] >> 8) * kTwoPowMinus24;
    }
  });
}

// philoxNormal(out, keyLo, keyHi, offsetLo, offsetHi, mean, std): Box-Muller in double on the
// word pairs (v0, v1) -> lanes 0, 1 and (v2, v3) -> lanes 2, 3; mean + std * z rounded to float32.
static Napi::Value PhiloxNormal(const Napi::CallbackInfo& info) {
  return guard(info, "philoxNormal", [&] {
    const DrawArgs a = drawArgs(info, "philoxNormal");
    const double mean = numArg(info, 5, "philoxNormal", "mean");
    const double stdev = numArg(info, 6, "philoxNormal", "std");
    const int64_t n = static_cast<int64_t>(a.out.size);
    const int64_t blocks = (n + 3) / 4;
    float* o = a.out.data;
#pragma omp parallel for schedule(static) if (n > kRandomParallelMin)
    for (int64_t j = 0; j < blocks; ++j) {
      const Block b = blockAt(a.offset, static_cast<uint64_t>(j), a.k0, a.k1);
      double z[4];
      for (int p = 0; p < 2; ++p) {
        // u1 in (0, 1] keeps log finite; u2 in [0, 1) is the angle.
        const double u1 = (static_cast<double>(b.v[2 * p]) + 1.0) * kTwoPowMinus32;
        const double u2 = static_cast<double>(b.v[2 * p + 1]) * kTwoPowMinus32;
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double theta = kTwoPi * u2;
        z[2 * p] = r * std::cos(theta);
        z[2 * p + 1] = r * std::sin(theta);
      }
      const int64_t base = 4 * j;
      const int64_t m = n - base < 4 ? n - base : 4;
      for (int64_t k = 0; k < m; ++k) o[base + k] = static_cast<float>(mean + stdev * z[k]);
    }
  });
}

void InitRandom(Napi::Env env, Napi::Object exports) {
  exports.Set("philox4x32", Napi::Function::New(env, Philox4x32));
  exports.Set("philoxUniform", Napi::Function::New(env, PhiloxUniform));
  exports.Set("philoxNormal", Napi::Function::New(env, PhiloxNormal));
}

}  // namespace diffuse
