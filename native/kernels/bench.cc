// Bare oneDNN baselines for bench/kernels.ts: the same convolution / matmul primitives our kernels
// use (same layouts, same descriptors), created once and timed straight from C++ with
// std::chrono, so the benchmark can report ours / bare and show what our layers cost.
#include <algorithm>
#include <chrono>
#include <vector>
#include "common.h"
#include "dnnl_compat.h"

namespace diffuse {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

enum ConvPass { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// Deterministic non-trivial data (denormals or zeros could flatter or penalise the timing).
std::vector<float> filled(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  return v;
}

// Seconds per call of `run`, averaged over `iters` calls after one warm-up call.
template <typename F>
double timeIt(int64_t iters, F run) {
  run();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) run();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(t1 - t0).count() / static_cast<double>(iters);
}

// benchConvBare(n, h, w, cin, cout, k, stride, pad, pass, iters) -> seconds per iteration of the
// conv2d primitive for `pass` (0 forward with bias, 1 backward-data, 2 backward-weights with bias),
// NHWC activations and weights in the layout the primitive picks (format `any`), symmetric padding:
// the primitive conv2d.cc runs, without its weight reorder and N-API layers.
Napi::Value BenchConvBare(const Napi::CallbackInfo& info) {
  const char* op = "benchConvBare";
  double seconds = 0;
  Napi::Value r = guard(info, op, [&] {
    const int64_t n = intArg(info, 0, op, "n", 1), h = intArg(info, 1, op, "h", 1), w = intArg(info, 2, op, "w", 1);
    const int64_t cin = intArg(info, 3, op, "cin", 1), cout = intArg(info, 4, op, "cout", 1);
    const int64_t k = intArg(info, 5, op, "k", 1), s = intArg(info, 6, op, "stride", 1), p = intArg(info, 7, op, "pad", 0);
    const int64_t pass = intArg(info, 8, op, "pass"), iters = intArg(info, 9, op, "iters", 1);
    require(pass <= kBackwardWeights, "benchConvBare: pass must be 0, 1 or 2");
    require(h + 2 * p >= k && w + 2 * p >= k, "benchConvBare: the kernel is larger than the padded input");
    const int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    const memory::desc xd({n, cin, h, w}, kF32, tag::nhwc), wd({cout, cin, k, k}, kF32, tag::any),
        bd({cout}, kF32, tag::x), yd({n, cout, oh, ow}, kF32, tag::nhwc);
    const memory::dims strides{s, s}, pad{p, p};
    auto& eng = cpuEngine();
    std::vector<float> x = filled(static_cast<size_t>(n * h * w * cin)),
                       b = filled(static_cast<size_t>(cout)), y = filled(static_cast<size_t>(n * oh * ow * cout));
    memory xm(xd, eng, x.data()), bm(bd, eng, b.data()), ym(yd, eng, y.data());
    const auto fwdPd = makeConvFwdPd(xd, wd, &bd, yd, strides, pad, pad);
    // Weights in the primitive's own layout (possibly padded), filled with the same kind of data.
    auto weightsFor = [&](const memory::desc& md) {
      memory m(md, eng);
      const std::vector<float> v = filled(md.get_size() / sizeof(float));
      std::copy(v.begin(), v.end(), static_cast<float*>(m.get_data_handle()));
      return m;
    };
    dnnl::primitive prim;
    std::unordered_map<int, memory> args;
    switch (pass) {
      case kForward:
        prim = dnnl::convolution_forward(fwdPd);
        args = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, weightsFor(fwdPd.weights_desc())}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, ym}};
        break;
      case kBackwardData: {
        const auto hint = makeConvFwdPd(xd, wd, nullptr, yd, strides, pad, pad);
        const auto pd = makeConvBwdDataPd(xd, wd, yd, strides, pad, pad, hint);
        prim = dnnl::convolution_backward_data(pd);
        args = {{DNNL_ARG_DIFF_DST, ym}, {DNNL_ARG_WEIGHTS, weightsFor(pd.weights_desc())}, {DNNL_ARG_DIFF_SRC, xm}};
        break;
      }
      default: {
        const auto pd = makeConvBwdWeightsPd(xd, wd, &bd, yd, strides, pad, pad, fwdPd);
        prim = dnnl::convolution_backward_weights(pd);
        args = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, ym}, {DNNL_ARG_DIFF_WEIGHTS, weightsFor(pd.diff_weights_desc())}, {DNNL_ARG_DIFF_BIAS, bm}};
        break;
      }
    }
    seconds = timeIt(iters, [&] {
      prim.execute(cpuStream(), args);
      cpuStream().wait();
    });
  });
  return info.Env().IsExceptionPending() ? r : Napi::Number::New(info.Env(), seconds);
}

// benchMatmulBare(m, n, k, iters) -> seconds per iteration of the plain (M, K) x (K, N) f32 matmul
// primitive, row-major, alpha 1: what matmul.cc runs for a 2-D product.
Napi::Value BenchMatmulBare(const Napi::CallbackInfo& info) {
  const char* op = "benchMatmulBare";
  double seconds = 0;
  Napi::Value r = guard(info, op, [&] {
    const int64_t m = intArg(info, 0, op, "m", 1), n = intArg(info, 1, op, "n", 1), k = intArg(info, 2, op, "k", 1);
    const int64_t iters = intArg(info, 3, op, "iters", 1);
    const memory::desc ad({1, m, k}, kF32, tag::abc), bd({1, k, n}, kF32, tag::abc), cd({1, m, n}, kF32, tag::abc);
    std::vector<float> a = filled(static_cast<size_t>(m * k)), b = filled(static_cast<size_t>(k * n)),
                       c(static_cast<size_t>(m * n));
    auto& eng = cpuEngine();
    const ScaledMatmul mm = makeScaledMatmul(ad, bd, nullptr, cd, 1.0f);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(ad, eng, a.data())}, {DNNL_ARG_WEIGHTS, memory(bd, eng, b.data())}, {DNNL_ARG_DST, memory(cd, eng, c.data())}};
    addScaleArgs(mm, args);
    seconds = timeIt(iters, [&] {
      mm.prim.execute(cpuStream(), args);
      cpuStream().wait();
    });
  });
  return info.Env().IsExceptionPending() ? r : Napi::Number::New(info.Env(), seconds);
}

}  // namespace

void InitBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchConvBare", Napi::Function::New(env, BenchConvBare));
  exports.Set("benchMatmulBare", Napi::Function::New(env, BenchMatmulBare));
}

}  // namespace diffuse
