// In-place optimizer updates over one parameter buffer: AdamW (Loshchilov & Hutter, "Decoupled
// weight decay regularization", ICLR 2019, exactly as torch.optim.AdamW) and the exponential
// moving average of weights. The TypeScript twins are in src/backend/reference/optim.ts.
#include <cmath>
#include "common.h"

namespace diffuse {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kOptimParallelMin = 1 << 15;

// adamwStep(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step), step >= 1 the count including
// this one. As torch.optim.AdamW (single-tensor path):
//   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
static Napi::Value AdamwStep(const Napi::CallbackInfo& info) {
  return guard(info, "adamwStep", [&] {
    const char* op = "adamwStep";
    F32 p = f32Arg(info, 0, op, "param");
    F32 g = f32Arg(info, 1, op, "grad", p.size);
    F32 m = f32Arg(info, 2, op, "expAvg", p.size);
    F32 v = f32Arg(info, 3, op, "expAvgSq", p.size);
    const double lr = numArg(info, 4, op, "lr");
    const double beta1 = numArg(info, 5, op, "beta1");
    const double beta2 = numArg(info, 6, op, "beta2");
    const double eps = numArg(info, 7, op, "eps");
    const double wd = numArg(info, 8, op, "weightDecay");
    const int64_t step = intArg(info, 9, op, "step", 1);
    // Scalars in double (the bias corrections of a long run are close to 1), elementwise in float32 as torch.
    const float decay = static_cast<float>(1.0 - lr * wd);
    const float b1 = static_cast<float>(beta1), omb1 = static_cast<float>(1.0 - beta1);
    const float b2 = static_cast<float>(beta2), omb2 = static_cast<float>(1.0 - beta2);
    const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
    const float stepSize = static_cast<float>(lr / bc1);
    const float sqrtBc2 = static_cast<float>(std::sqrt(bc2));
    const float epsf = static_cast<float>(eps);
    float *pp = p.data, *mm = m.data, *vv = v.data;
    const float* gg = g.data;
    const int64_t n = static_cast<int64_t>(p.size);
#pragma omp parallel for schedule(static) if (n > kOptimParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float gi = gg[i];
      const float mi = b1 * mm[i] + omb1 * gi;
      const float vi = b2 * vv[i] + omb2 * gi * gi;
      mm[i] = mi;
      vv[i] = vi;
      const float denom = std::sqrt(vi) / sqrtBc2 + epsf;
      pp[i] = pp[i] * decay - stepSize * mi / denom;
    }
  });
}

// emaUpdate(shadow, param, decay): shadow = decay*shadow + (1-decay)*param, written as
// shadow -= (1-decay)*(shadow - param) like diffusers' EMAModel (a fixed point stays exact).
static Napi::Value EmaUpdate(const Napi::CallbackInfo& info) {
  return guard(info, "emaUpdate", [&] {
    F32 s = f32Arg(info, 0, "emaUpdate", "shadow");
    F32 p = f32Arg(info, 1, "emaUpdate", "param", s.size);
    const double decay = numArg(info, 2, "emaUpdate", "decay");
    const float omd = static_cast<float>(1.0 - decay);
    float* ss = s.data;
    const float* pp = p.data;
    const int64_t n = static_cast<int64_t>(s.size);
#pragma omp parallel for schedule(static) if (n > kOptimParallelMin)
    for (int64_t i = 0; i < n; ++i) ss[i] -= omd * (ss[i] - pp[i]);
  });
}

void InitOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamwStep", Napi::Function::New(env, AdamwStep));
  exports.Set("emaUpdate", Napi::Function::New(env, EmaUpdate));
}

}  // namespace diffuse
