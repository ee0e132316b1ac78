// Elementwise unary functions and their derivatives. The op codes match UNARY_OPS in
// src/backend/kernels/unary.ts (same order).
#include <cmath>
#include "common.h"

namespace diffuse {

enum UnaryOp { kSilu, kExp, kLog, kSqrt, kSquare, kSin, kCos, kTanh, kSigmoid, kNeg, kAbs, kUnaryCount };

constexpr size_t kUnaryParallelMin = 1 << 14;

static inline float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }

template <typename F>
static void mapN(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > static_cast<int64_t>(kUnaryParallelMin))
  for (int64_t i = 0; i < n; ++i) f(i);
}

static Napi::Value Unary(const Napi::CallbackInfo& info) {
  return guard(info, "unary", [&] {
    const int64_t op = intArg(info, 0, "unary", "op");
    require(op < kUnaryCount, "unary: unknown op code " + std::to_string(op));
    F32 x = f32Arg(info, 1, "unary", "x");
    F32 y = f32Arg(info, 2, "unary", "out", x.size);
    const float* a = x.data;
    float* o = y.data;
    const int64_t n = static_cast<int64_t>(x.size);
    switch (op) {
      case kSilu: mapN(n, [&](int64_t i) { o[i] = a[i] * sigmoidf(a[i]); }); break;
      case kExp: mapN(n, [&](int64_t i) { o[i] = std::exp(a[i]); }); break;
      case kLog: mapN(n, [&](int64_t i) { o[i] = std::log(a[i]); }); break;
      case kSqrt: mapN(n, [&](int64_t i) { o[i] = std::sqrt(a[i]); }); break;
      case kSquare: mapN(n, [&](int64_t i) { o[i] = a[i] * a[i]; }); break;
      case kSin: mapN(n, [&](int64_t i) { o[i] = std::sin(a[i]); }); break;
      case kCos: mapN(n, [&](int64_t i) { o[i] = std::cos(a[i]); }); break;
      case kTanh: mapN(n, [&](int64_t i) { o[i] = std::tanh(a[i]); }); break;
      case kSigmoid: mapN(n, [&](int64_t i) { o[i] = sigmoidf(a[i]); }); break;
      case kNeg: mapN(n, [&](int64_t i) { o[i] = -a[i]; }); break;
      case kAbs: mapN(n, [&](int64_t i) { o[i] = std::fabs(a[i]); }); break;
    }
  });
}

// gx = gy * f'(x), using the saved output y where that is cheaper.
static Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  return guard(info, "unaryBackward", [&] {
    const int64_t op = intArg(info, 0, "unaryBackward", "op");
    require(op < kUnaryCount, "unaryBackward: unknown op code " + std::to_string(op));
    F32 x = f32Arg(info, 1, "unaryBackward", "x");
    F32 y = f32Arg(info, 2, "unaryBackward", "y", x.size);
    F32 gy = f32Arg(info, 3, "unaryBackward", "gy", x.size);
    F32 gx = f32Arg(info, 4, "unaryBackward", "gx", x.size);
    const float *a = x.data, *b = y.data, *g = gy.data;
    float* o = gx.data;
    const int64_t n = static_cast<int64_t>(x.size);
    switch (op) {
      case kSilu:
        mapN(n, [&](int64_t i) {
          const float s = sigmoidf(a[i]);
          o[i] = g[i] * s * (1.0f + a[i] * (1.0f - s));
        });
        break;
      case kExp: mapN(n, [&](int64_t i) { o[i] = g[i] * b[i]; }); break;
      case kLog: mapN(n, [&](int64_t i) { o[i] = g[i] / a[i]; }); break;
      case kSqrt: mapN(n, [&](int64_t i) { o[i] = g[i] * 0.5f / b[i]; }); break;
      case kSquare: mapN(n, [&](int64_t i) { o[i] = g[i] * 2.0f * a[i]; }); break;
      case kSin: mapN(n, [&](int64_t i) { o[i] = g[i] * std::cos(a[i]); }); break;
      case kCos: mapN(n, [&](int64_t i) { o[i] = -g[i] * std::sin(a[i]); }); break;
      case kTanh: mapN(n, [&](int64_t i) { o[i] = g[i] * (1.0f - b[i] * b[i]); }); break;
      case kSigmoid: mapN(n, [&](int64_t i) { o[i] = g[i] * b[i] * (1.0f - b[i]); }); break;
      case kNeg: mapN(n, [&](int64_t i) { o[i] = -g[i]; }); break;
      case kAbs:
        mapN(n, [&](int64_t i) {
          const float s = a[i] > 0.0f ? 1.0f : (a[i] < 0.0f ? -1.0f : (a[i] == a[i] ? 0.0f : a[i]));
          o[i] = g[i] * s;
        });
        break;
    }
  });
}

void InitUnary(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("unaryBackward", Napi::Function::New(env, UnaryBackward));
}

}  // namespace diffuse
