// The diffuse native addon: kernels only (no graph, no autograd). Each family registers
// its functions from native/kernels/<family>.cc; nativeInfo reports what the engine runs on.
#include <omp.h>
#include <cstdlib>  // first: it defines __GLIBC__ on glibc systems
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "common.h"
#include "dnnl_compat.h"

namespace diffuse {

static Napi::Value NativeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("dnnlVersion", dnnlVersionString());
  o.Set("isa", effectiveIsaName());
  o.Set("threads", omp_get_max_threads());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guard(info, "setNumThreads", [&] {
    int64_t n = intArg(info, 0, "setNumThreads", "n", 1);
    omp_set_num_threads(static_cast<int>(n));
  });
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifdef __GLIBC__
  // A training step frees and reallocates the same large tensors every step. Served from the
  // heap instead of fresh mmap pages, they come back without a round of page faults (a 12.8 MB
  // conv output costs ~2 ms of faults otherwise). 32 MiB is glibc's largest mmap threshold on
  // 64-bit; the trim threshold keeps freed memory for the next step instead of returning it.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // Above 32 MiB glibc would still mmap every block (at batch 128 the U-Net's 96-channel 28x28
  // activations are 38.5 MB): no mmap at all keeps those on the heap too.
  mallopt(M_MMAP_MAX, 0);
#endif
  // DIFFUSE_THREADS sets the thread count for oneDNN and our own OpenMP kernels alike.
  if (const char* t = std::getenv("DIFFUSE_THREADS")) {
    int n = std::atoi(t);
    if (n > 0) omp_set_num_threads(n);
  }
  exports.Set("nativeInfo", Napi::Function::New(env, NativeInfo));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  InitCore(env, exports);
  InitUnary(env, exports);
  InitConv2d(env, exports);
  InitMatmul(env, exports);
  InitBinary(env, exports);
  InitLayout(env, exports);
  InitNorm(env, exports);
  InitAttention(env, exports);
  InitOptim(env, exports);
  InitRandom(env, exports);
  InitBench(env, exports);
  return exports;
}

}  // namespace diffuse

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return diffuse::Init(env, exports); }

NODE_API_MODULE(diffuse_native, InitAddon)
