// 2-D convolution over oneDNN: forward (y = x * w + b), backward-data (gx) and backward-weights
// (gw and, when asked, gb = sum of gy over N, OH, OW). Activations NHWC, weights OHWI
// (O, KH, KW, I), bias (O). Primitives are created once per geometry and cached, so a repeated
// call only wraps the caller's buffers in memory objects and executes.
//
// Layouts: activations stay plain NHWC (what the rest of the engine reads); weights are given to
// oneDNN as format `any`. Measured on this machine (2-core AVX-512, oneDNN 2.6, batch 128): with
// plain OHWI weights oneDNN falls back to its reference convolution (`ref:any`, ~0.07 GFLOP/s),
// while `any` weights select the JIT kernels (100-380 GFLOP/s). So each cached primitive keeps a
// weight buffer in its preferred (blocked) layout, and each call copies the OHWI weights into it
// (forward, backward-data) or the weight gradient out of it (backward-weights) through a cached
// index map (see ConvEntry). Entries are shared by calls of one geometry: kernels run on the JS
// thread, one at a time.
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#include "common.h"
#include "dnnl_compat.h"

namespace diffuse {

namespace {

using dnnl::memory;

// The geometry passed from TypeScript as an Int32Array, in this order (see geometryArray in
// src/backend/native/conv2d.ts): N, H, W, Cin, Cout, KH, KW, strideH, strideW, padTop,
// padBottom, padLeft, padRight.
struct ConvGeom {
  int64_t n, h, w, cin, cout, kh, kw, sh, sw, pt, pb, pl, pr;
  int64_t oh() const { return (h + pt + pb - kh) / sh + 1; }
  int64_t ow() const { return (w + pl + pr - kw) / sw + 1; }
  size_t xSize() const { return static_cast<size_t>(n * h * w * cin); }
  size_t wSize() const { return static_cast<size_t>(cout * kh * kw * cin); }
  size_t ySize() const { return static_cast<size_t>(n * oh() * ow() * cout); }
};
constexpr int kConvGeomLen = 13;

struct ConvDescs {
  memory::desc x, w, wAny, b, y;
  memory::dims strides, padL, padR;
};

ConvGeom convGeomArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Int32Array g = i32Arg(info, i, op, "geometry");
  require(g.ElementLength() == kConvGeomLen, std::string(op) + ": argument 'geometry' has " +
                                                 std::to_string(g.ElementLength()) + " elements, expected " +
                                                 std::to_string(kConvGeomLen));
  const int32_t* d = g.Data();
  ConvGeom c{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12]};
  require(c.n >= 1 && c.h >= 1 && c.w >= 1 && c.cin >= 1 && c.cout >= 1 && c.kh >= 1 && c.kw >= 1,
          std::string(op) + ": sizes in 'geometry' must be >= 1");
  require(c.sh >= 1 && c.sw >= 1, std::string(op) + ": strides in 'geometry' must be >= 1");
  require(c.pt >= 0 && c.pb >= 0 && c.pl >= 0 && c.pr >= 0, std::string(op) + ": padding in 'geometry' must be >= 0");
  require(c.h + c.pt + c.pb >= c.kh && c.w + c.pl + c.pr >= c.kw,
          std::string(op) + ": the kernel is larger than the padded input");
  return c;
}

ConvDescs convDescs(const ConvGeom& g) {
  using tag = memory::format_tag;
  const auto f32 = memory::data_type::f32;
  ConvDescs d;
  d.x = memory::desc({g.n, g.cin, g.h, g.w}, f32, tag::nhwc);
  d.w = memory::desc({g.cout, g.cin, g.kh, g.kw}, f32, tag::ohwi);
  d.wAny = memory::desc({g.cout, g.cin, g.kh, g.kw}, f32, tag::any);
  d.b = memory::desc({g.cout}, f32, tag::x);
  d.y = memory::desc({g.n, g.cout, g.oh(), g.ow()}, f32, tag::nhwc);
  d.strides = {g.sh, g.sw};
  d.padL = {g.pt, g.pl};
  d.padR = {g.pb, g.pr};
  return d;
}

// Which primitive of a geometry; with/without bias counts as a different primitive.
enum ConvKind { kFwd = 0, kFwdBias = 1, kBwdData = 2, kBwdWeights = 3, kBwdWeightsBias = 4 };

using ConvKey = std::array<int64_t, kConvGeomLen + 1>;

// A cached primitive and, when it wants weights in another layout than OHWI, the buffer in its
// layout and the map between the two. The map is used by our own copy loop instead of a oneDNN
// reorder primitive: measured, oneDNN 2.6's reorder OHWI -> Acdb64a of 64x64x3x3 weights took
// ~6 ms (jit:uni), as long as the 7x7x64 batch-128 convolution itself; the gather takes microseconds.
struct ConvEntry {
  dnnl::primitive prim;
  bool reorderW = false;
  memory wPrim;                // weights (or weight gradient) in the primitive's layout
  std::vector<int64_t> wPhys;  // OHWI index j -> element offset of the same weight in wPrim
};

std::mutex cacheMutex;
std::map<ConvKey, std::shared_ptr<ConvEntry>> cache;

// Largest weight count whose indices are exact in float32 (the map below is built from floats).
constexpr size_t kMaxMappedWeights = size_t(1) << 24;

// Fills in the weight buffer of `e` for a primitive that wants weights as `want`, and the index
// map: one oneDNN reorder of the values 1..n (padding stays 0) tells where each OHWI weight lands,
// whatever the blocked layout, with no version-specific layout queries.
void prepareWeights(ConvEntry& e, const ConvDescs& d, const memory::desc& want) {
  e.reorderW = !(want == d.w);
  if (!e.reorderW) return;
  e.wPrim = memory(want, cpuEngine());
  const size_t n = d.w.get_size() / sizeof(float), physN = want.get_size() / sizeof(float);
  require(n < kMaxMappedWeights, "conv2d: weight tensor too large (" + std::to_string(n) + " elements)");
  std::vector<float> ids(n);
  for (size_t j = 0; j < n; ++j) ids[j] = static_cast<float>(j + 1);
  float* phys = static_cast<float*>(e.wPrim.get_data_handle());
  std::fill(phys, phys + physN, 0.0f);
  memory plain(d.w, cpuEngine(), ids.data());
  dnnl::reorder(plain, e.wPrim).execute(cpuStream(), plain, e.wPrim);
  cpuStream().wait();
  e.wPhys.assign(n, -1);
  for (size_t p = 0; p < physN; ++p) {
    const float v = phys[p];
    if (v > 0.0f) e.wPhys[static_cast<size_t>(v) - 1] = static_cast<int64_t>(p);
  }
  for (size_t j = 0; j < n; ++j) require(e.wPhys[j] >= 0, "conv2d: could not map the weight layout");
  std::fill(phys, phys + physN, 0.0f);  // padding must stay zero
}

// The cached primitive for (geometry, kind), created on first use.
std::shared_ptr<ConvEntry> convPrimitive(const ConvGeom& g, ConvKind kind) {
  ConvKey key = {g.n, g.h, g.w, g.cin, g.cout, g.kh, g.kw, g.sh, g.sw, g.pt, g.pb, g.pl, g.pr, kind};
  std::lock_guard<std::mutex> lock(cacheMutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const ConvDescs d = convDescs(g);
  auto e = std::make_shared<ConvEntry>();
  switch (kind) {
    case kFwd:
    case kFwdBias: {
      auto pd = makeConvFwdPd(d.x, d.wAny, kind == kFwdBias ? &d.b : nullptr, d.y, d.strides, d.padL, d.padR);
      e->prim = dnnl::convolution_forward(pd);
      prepareWeights(*e, d, pd.weights_desc());
      break;
    }
    case kBwdData: {
      auto hint = makeConvFwdPd(d.x, d.wAny, nullptr, d.y, d.strides, d.padL, d.padR);
      auto pd = makeConvBwdDataPd(d.x, d.wAny, d.y, d.strides, d.padL, d.padR, hint);
      e->prim = dnnl::convolution_backward_data(pd);
      prepareWeights(*e, d, pd.weights_desc());
      break;
    }
    case kBwdWeights:
    case kBwdWeightsBias: {
      const bool bias = kind == kBwdWeightsBias;
      auto hint = makeConvFwdPd(d.x, d.wAny, bias ? &d.b : nullptr, d.y, d.strides, d.padL, d.padR);
      auto pd = makeConvBwdWeightsPd(d.x, d.wAny, bias ? &d.b : nullptr, d.y, d.strides, d.padL, d.padR, hint);
      e->prim = dnnl::convolution_backward_weights(pd);
      prepareWeights(*e, d, pd.diff_weights_desc());
      break;
    }
  }
  cache.emplace(key, e);
  return e;
}

memory wrap(const memory::desc& md, float* data) { return memory(md, cpuEngine(), data); }

// Weight copies between OHWI and the primitive's layout run in parallel only above this size
// (4 MiB of weights). A serial copy of a 64x64x3x3 kernel takes ~10 us, while an extra parallel
// region costs a scheduler time slice whenever another process holds one of the cores: measured
// under load, it doubled the time of a 7x7x64 batch-128 convolution.
constexpr int64_t kCopyParallelMin = 1 << 20;

// The weights as the primitive wants them: the caller's OHWI buffer, or a copy in the entry's buffer.
memory weightsIn(ConvEntry& e, const ConvDescs& d, float* w) {
  if (!e.reorderW) return wrap(d.w, w);
  float* dst = static_cast<float*>(e.wPrim.get_data_handle());
  const int64_t* phys = e.wPhys.data();
  const int64_t n = static_cast<int64_t>(e.wPhys.size());
#pragma omp parallel for schedule(static) if (n > kCopyParallelMin)
  for (int64_t j = 0; j < n; ++j) dst[phys[j]] = w[j];
  return e.wPrim;
}

// The weight gradient back from the primitive's layout into the caller's OHWI buffer.
void weightsOut(const ConvEntry& e, float* gw) {
  const float* src = static_cast<const float*>(e.wPrim.get_data_handle());
  const int64_t* phys = e.wPhys.data();
  const int64_t n = static_cast<int64_t>(e.wPhys.size());
#pragma omp parallel for schedule(static) if (n > kCopyParallelMin)
  for (int64_t j = 0; j < n; ++j) gw[j] = src[phys[j]];
}

// conv2dForward(geometry, x, w, b | null, y): y = conv(x, w) + b.
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  const char* op = "conv2dForward";
  return guard(info, op, [&] {
    const ConvGeom g = convGeomArg(info, 0, op);
    F32 x = f32Arg(info, 1, op, "x", g.xSize());
    F32 w = f32Arg(info, 2, op, "w", g.wSize());
    const bool hasBias = info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined();
    F32 b = hasBias ? f32Arg(info, 3, op, "b", static_cast<size_t>(g.cout)) : F32{nullptr, 0};
    F32 y = f32Arg(info, 4, op, "y", g.ySize());
    const ConvDescs d = convDescs(g);
    auto e = convPrimitive(g, hasBias ? kFwdBias : kFwd);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, wrap(d.x, x.data)}, {DNNL_ARG_WEIGHTS, weightsIn(*e, d, w.data)}, {DNNL_ARG_DST, wrap(d.y, y.data)}};
    if (hasBias) args[DNNL_ARG_BIAS] = wrap(d.b, b.data);
    e->prim.execute(cpuStream(), args);
    cpuStream().wait();
  });
}

// conv2dBackwardData(geometry, gy, w, gx): gx = conv_transpose(gy, w).
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  const char* op = "conv2dBackwardData";
  return guard(info, op, [&] {
    const ConvGeom g = convGeomArg(info, 0, op);
    F32 gy = f32Arg(info, 1, op, "gy", g.ySize());
    F32 w = f32Arg(info, 2, op, "w", g.wSize());
    F32 gx = f32Arg(info, 3, op, "gx", g.xSize());
    const ConvDescs d = convDescs(g);
    auto e = convPrimitive(g, kBwdData);
    e->prim.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, wrap(d.y, gy.data)},
                                  {DNNL_ARG_WEIGHTS, weightsIn(*e, d, w.data)},
                                  {DNNL_ARG_DIFF_SRC, wrap(d.x, gx.data)}});
    cpuStream().wait();
  });
}

// conv2dBackwardWeights(geometry, x, gy, gw, gb | null): gw = sum over N, OH, OW of x-patches * gy;
// gb = sum of gy over N, OH, OW. Both are overwritten (the op accumulates).
Napi::Value Conv2dBackwardWeights(const Napi::CallbackInfo& info) {
  const char* op = "conv2dBackwardWeights";
  return guard(info, op, [&] {
    const ConvGeom g = convGeomArg(info, 0, op);
    F32 x = f32Arg(info, 1, op, "x", g.xSize());
    F32 gy = f32Arg(info, 2, op, "gy", g.ySize());
    F32 gw = f32Arg(info, 3, op, "gw", g.wSize());
    const bool hasBias = info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined();
    F32 gb = hasBias ? f32Arg(info, 4, op, "gb", static_cast<size_t>(g.cout)) : F32{nullptr, 0};
    const ConvDescs d = convDescs(g);
    auto e = convPrimitive(g, hasBias ? kBwdWeightsBias : kBwdWeights);
    memory gwPlain = wrap(d.w, gw.data);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(d.x, x.data)},
                                         {DNNL_ARG_DIFF_DST, wrap(d.y, gy.data)},
                                         {DNNL_ARG_DIFF_WEIGHTS, e->reorderW ? e->wPrim : gwPlain}};
    if (hasBias) args[DNNL_ARG_DIFF_BIAS] = wrap(d.b, gb.data);
    e->prim.execute(cpuStream(), args);
    // The gradient comes out in the primitive's layout; bring it back to OHWI.
    if (e->reorderW) {
      cpuStream().wait();
      weightsOut(*e, gw.data);
    }
    cpuStream().wait();
  });
}

// Number of cached conv primitives (tests check that repeated calls do not add any).
Napi::Value Conv2dCacheSize(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(cacheMutex);
  return Napi::Number::New(info.Env(), static_cast<double>(cache.size()));
}

}  // namespace

void InitConv2d(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2dForward", Napi::Function::New(env, Conv2dForward));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, Conv2dBackwardData));
  exports.Set("conv2dBackwardWeights", Napi::Function::New(env, Conv2dBackwardWeights));
  exports.Set("conv2dCacheSize", Napi::Function::New(env, Conv2dCacheSize));
}

}  // namespace diffuse
