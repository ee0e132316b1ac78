// Batched matrix product over oneDNN matmul: c[i] = alpha * op(a[i]) op(b[i]) (+ bias), where
// op() optionally transposes (expressed as strides, so no copies) and either operand may have a
// single batch entry broadcast over the others. Primitives are cached by shape, transposes,
// broadcast, bias and alpha.
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include "common.h"
#include "dnnl_compat.h"

namespace diffuse {

namespace {

using dnnl::memory;

// Problem parameters passed from TypeScript as an Int32Array, in this order (see paramsArray in
// src/backend/native/matmul.ts): batch, M, N, K, transA, transB, broadcastA, broadcastB.
struct MatmulParams {
  int64_t batch, m, n, k;
  bool transA, transB, bcastA, bcastB;
  size_t aSize() const { return static_cast<size_t>((bcastA ? 1 : batch) * m * k); }
  size_t bSize() const { return static_cast<size_t>((bcastB ? 1 : batch) * k * n); }
  size_t cSize() const { return static_cast<size_t>(batch * m * n); }
};
constexpr int kParamsLen = 8;

MatmulParams paramsArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Int32Array a = i32Arg(info, i, op, "params");
  require(a.ElementLength() == kParamsLen, std::string(op) + ": argument 'params' has " +
                                               std::to_string(a.ElementLength()) + " elements, expected " +
                                               std::to_string(kParamsLen));
  const int32_t* d = a.Data();
  MatmulParams p{d[0], d[1], d[2], d[3], d[4] != 0, d[5] != 0, d[6] != 0, d[7] != 0};
  require(p.batch >= 1 && p.m >= 1 && p.n >= 1 && p.k >= 1,
          std::string(op) + ": batch, M, N and K in 'params' must be >= 1");
  return p;
}

// (B, rows, cols) view of a row-major buffer stored (B, rows, cols), or (B, cols, rows) if `trans`.
memory::desc viewDesc(int64_t b, int64_t rows, int64_t cols, bool trans) {
  const memory::dims strides = trans ? memory::dims{rows * cols, 1, rows} : memory::dims{rows * cols, cols, 1};
  return memory::desc({b, rows, cols}, memory::data_type::f32, strides);
}

struct MatmulDescs {
  memory::desc a, b, bias, c;
};

MatmulDescs matmulDescs(const MatmulParams& p) {
  return {viewDesc(p.bcastA ? 1 : p.batch, p.m, p.k, p.transA), viewDesc(p.bcastB ? 1 : p.batch, p.k, p.n, p.transB),
          memory::desc({1, 1, p.n}, memory::data_type::f32, memory::format_tag::abc),
          memory::desc({p.batch, p.m, p.n}, memory::data_type::f32, memory::format_tag::abc)};
}

using MatmulKey = std::array<int64_t, kParamsLen + 2>;

std::mutex cacheMutex;
std::map<MatmulKey, ScaledMatmul> cache;

const ScaledMatmul& matmulPrimitive(const MatmulParams& p, const MatmulDescs& d, bool bias, float alpha) {
  uint32_t alphaBits;
  std::memcpy(&alphaBits, &alpha, sizeof alphaBits);
  const MatmulKey key{p.batch, p.m, p.n, p.k, p.transA, p.transB, p.bcastA, p.bcastB, bias, alphaBits};
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  return cache.emplace(key, makeScaledMatmul(d.a, d.b, bias ? &d.bias : nullptr, d.c, alpha)).first->second;
}

// matmul(params, a, b, bias | null, c, alpha): c = alpha * op(a) op(b) (+ bias over the last axis).
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const char* op = "matmul";
  return guard(info, op, [&] {
    const MatmulParams p = paramsArg(info, 0, op);
    F32 a = f32Arg(info, 1, op, "a", p.aSize());
    F32 b = f32Arg(info, 2, op, "b", p.bSize());
    const bool hasBias = info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined();
    F32 bias = hasBias ? f32Arg(info, 3, op, "bias", static_cast<size_t>(p.n)) : F32{nullptr, 0};
    F32 c = f32Arg(info, 4, op, "c", p.cSize());
    const float alpha = static_cast<float>(numArg(info, 5, op, "alpha"));
    require(!hasBias || alpha == 1.0f, "matmul: a bias needs alpha == 1, found alpha " + std::to_string(alpha));
    const MatmulDescs d = matmulDescs(p);
    const ScaledMatmul& m = matmulPrimitive(p, d, hasBias, alpha);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(d.a, cpuEngine(), a.data)},
                                         {DNNL_ARG_WEIGHTS, memory(d.b, cpuEngine(), b.data)},
                                         {DNNL_ARG_DST, memory(d.c, cpuEngine(), c.data)}};
    if (hasBias) args[DNNL_ARG_BIAS] = memory(d.bias, cpuEngine(), bias.data);
    addScaleArgs(m, args);
    m.prim.execute(cpuStream(), args);
    cpuStream().wait();
  });
}

Napi::Value MatmulCacheSize(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(cacheMutex);
  return Napi::Number::New(info.Env(), static_cast<double>(cache.size()));
}

}  // namespace

void InitMatmul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("matmulCacheSize", Napi::Function::New(env, MatmulCacheSize));
}

}  // namespace diffuse
