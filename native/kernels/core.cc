// Core buffer kernels used by the autograd engine itself: gradient accumulation (axpy).
#include "common.h"

namespace diffuse {

// Below this many elements a parallel region costs more than it saves.
constexpr size_t kParallelMin = 1 << 15;

// dst += alpha * src
static Napi::Value Axpy(const Napi::CallbackInfo& info) {
  return guard(info, "axpy", [&] {
    F32 dst = f32Arg(info, 0, "axpy", "dst");
    F32 src = f32Arg(info, 1, "axpy", "src", dst.size);
    const float alpha = static_cast<float>(numArg(info, 2, "axpy", "alpha"));
    const int64_t n = static_cast<int64_t>(dst.size);
#pragma omp parallel for schedule(static) if (dst.size > kParallelMin)
    for (int64_t i = 0; i < n; ++i) dst.data[i] += alpha * src.data[i];
  });
}

void InitCore(Napi::Env env, Napi::Object exports) {
  exports.Set("axpy", Napi::Function::New(env, Axpy));
}

}  // namespace diffuse
