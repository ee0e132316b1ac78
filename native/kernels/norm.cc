// Normalisation kernels, forward and backward: group norm over NHWC (Wu & He 2018, as
// torch.nn.GroupNorm: biased variance, per-sample statistics over H, W and the group's
// channels), group norm fused with SiLU (the U-Net's ResnetBlock2D), layer norm over the last
// axis (Ba et al. 2016) and the max-subtracted softmax over the last axis. oneDNN 2.x has no
// group norm, so this is our own C++ with OpenMP.
//
// Accuracy: statistics are accumulated in double, in two passes (the mean, then the centred
// sum of squares), so there is no E[x^2] - E[x]^2 cancellation.
// Determinism: work is split into chunks whose size depends only on the shape, and partial
// sums are reduced in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <vector>
#include "common.h"
#include "vec_math.h"

namespace diffuse {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kNormParallelMin = 1 << 14;
// Elements per reduction chunk: big enough to amortise the partial-sum buffers, small enough to
// give two threads work even for one 28x28 image.
constexpr int64_t kNormChunkElems = 4096;

static inline float sigmoidf(float z) { return 1.0f / (1.0f + expVec(-z)); }

// Product of sizes, rejecting overflow (the sizes come straight from JavaScript).
static int64_t sizeProduct(const char* op, std::initializer_list<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    require(d == 0 || p <= std::numeric_limits<int64_t>::max() / d, std::string(op) + ": sizes overflow");
    p *= d;
  }
  return p;
}

// An optional Float32Array: length 0 means absent, otherwise it must have `expected` elements.
static F32 optionalF32(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, size_t expected) {
  F32 a = f32Arg(info, i, op, name);
  require(a.size == 0 || a.size == expected,
          std::string(op) + ": argument '" + name + "' has " + std::to_string(a.size) + " elements, expected " +
              std::to_string(expected) + " (or 0 for none)");
  return a;
}

// ---------------------------------------------------------------------------------------------
// Group norm

struct GnShape {
  int64_t n, s, c, groups, cg;
  int64_t ppc;     // pixels per reduction chunk
  int64_t chunks;  // chunks per sample
  int64_t total;   // n * s * c
};

static GnShape gnShape(const Napi::CallbackInfo& info, size_t first, const char* op) {
  GnShape d{};
  d.n = intArg(info, first, op, "n");
  d.s = intArg(info, first + 1, op, "s");
  d.c = intArg(info, first + 2, op, "c", 1);
  d.groups = intArg(info, first + 3, op, "groups", 1);
  require(d.c % d.groups == 0, std::string(op) + ": channels c=" + std::to_string(d.c) +
                                   " are not divisible by groups=" + std::to_string(d.groups));
  d.cg = d.c / d.groups;
  d.total = sizeProduct(op, {d.n, d.s, d.c});
  d.ppc = std::max<int64_t>(1, kNormChunkElems / d.c);
  d.chunks = std::max<int64_t>(1, (d.s + d.ppc - 1) / d.ppc);
  return d;
}

// Per (sample, chunk, channel) partial sums of f(x) over the chunk's pixels, where f sees the
// sample index, so the caller can centre by that sample's mean. acc is (n * chunks, c).
template <typename F>
static void gnChunkSums(const GnShape& d, std::vector<double>& acc, F f) {
  acc.assign(static_cast<size_t>(d.n * d.chunks * d.c), 0.0);
  const int64_t tasks = d.n * d.chunks;
#pragma omp parallel for schedule(static) if (d.total > kNormParallelMin)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t i = t / d.chunks, k = t % d.chunks;
    const int64_t p0 = k * d.ppc, p1 = std::min(d.s, p0 + d.ppc);
    double* a = acc.data() + t * d.c;
    for (int64_t p = p0; p < p1; ++p) f(i, (i * d.s + p) * d.c, a);
  }
}

// Sums the chunk partials of sample i, channel ch, in a fixed order.
static inline double gnReduce(const GnShape& d, const std::vector<double>& acc, int64_t i, int64_t ch) {
  double s = 0;
  for (int64_t k = 0; k < d.chunks; ++k) s += acc[static_cast<size_t>((i * d.chunks + k) * d.c + ch)];
  return s;
}

// groupNormForward(x, gamma, beta, y, mean, rstd, n, s, c, groups, eps, silu)
static Napi::Value GroupNormForward(const Napi::CallbackInfo& info) {
  const char* op = "groupNormForward";
  return guard(info, op, [&] {
    const GnShape d = gnShape(info, 6, op);
    const double eps = numArg(info, 10, op, "eps");
    const bool silu = boolArg(info, 11, op, "silu");
    F32 x = f32Arg(info, 0, op, "x", static_cast<size_t>(d.total));
    F32 gamma = f32Arg(info, 1, op, "gamma", static_cast<size_t>(d.c));
    F32 beta = f32Arg(info, 2, op, "beta", static_cast<size_t>(d.c));
    F32 y = f32Arg(info, 3, op, "y", static_cast<size_t>(d.total));
    F32 mean = f32Arg(info, 4, op, "mean", static_cast<size_t>(d.n * d.groups));
    F32 rstd = f32Arg(info, 5, op, "rstd", static_cast<size_t>(d.n * d.groups));
    const float* xs = x.data;
    const int64_t c = d.c, cg = d.cg, G = d.groups;
    const double m = static_cast<double>(d.s * cg);

    // Pass 1: the group means.
    std::vector<double> acc;
    gnChunkSums(d, acc, [&](int64_t, int64_t off, double* a) {
      for (int64_t ch = 0; ch < c; ++ch) a[ch] += xs[off + ch];
    });
    std::vector<double> meanC(static_cast<size_t>(d.n * c));  // (n, c): the mean of ch's group
    for (int64_t i = 0; i < d.n; ++i) {
      for (int64_t g = 0; g < G; ++g) {
        double sum = 0;
        for (int64_t j = 0; j < cg; ++j) sum += gnReduce(d, acc, i, g * cg + j);
        const double mu = sum / m;
        for (int64_t j = 0; j < cg; ++j) meanC[i * c + g * cg + j] = mu;
        mean.data[i * G + g] = static_cast<float>(mu);
      }
    }

    // Pass 2: the centred sums of squares (no cancellation), then rstd.
    gnChunkSums(d, acc, [&](int64_t i, int64_t off, double* a) {
      const double* mu = meanC.data() + i * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        const double v = xs[off + ch] - mu[ch];
        a[ch] += v * v;
      }
    });
    // Per (n, c): y = (x - mu) * scale + beta with scale = rstd * gamma.
    std::vector<float> muF(static_cast<size_t>(d.n * c)), scale(static_cast<size_t>(d.n * c));
    for (int64_t i = 0; i < d.n; ++i) {
      for (int64_t g = 0; g < G; ++g) {
        double ss = 0;
        for (int64_t j = 0; j < cg; ++j) ss += gnReduce(d, acc, i, g * cg + j);
        const double r = 1.0 / std::sqrt(ss / m + eps);
        rstd.data[i * G + g] = static_cast<float>(r);
        for (int64_t j = 0; j < cg; ++j) {
          const int64_t ch = g * cg + j;
          muF[i * c + ch] = static_cast<float>(meanC[i * c + ch]);
          scale[i * c + ch] = static_cast<float>(r * gamma.data[ch]);
        }
      }
    }

    // Pass 3: normalise, affine, and (fused) SiLU, one pixel row of c channels at a time.
    const int64_t rows = d.n * d.s;
    const float* be = beta.data;
    float* ys = y.data;
#pragma omp parallel for schedule(static) if (d.total > kNormParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r / d.s;
      const float* mu = muF.data() + i * c;
      const float* sc = scale.data() + i * c;
      const float* xr = xs + r * c;
      float* yr = ys + r * c;
      if (silu) {
        for (int64_t ch = 0; ch < c; ++ch) {
          const float z = (xr[ch] - mu[ch]) * sc[ch] + be[ch];
          yr[ch] = z * sigmoidf(z);
        }
      } else {
        for (int64_t ch = 0; ch < c; ++ch) yr[ch] = (xr[ch] - mu[ch]) * sc[ch] + be[ch];
      }
    }
  });
}

// groupNormBackward(x, gamma, beta, mean, rstd, gy, gx, gGamma, gBeta, n, s, c, groups, silu)
//   xHat = (x - mu) * r, gz = dL/dz (gy, or gy * silu'(z) when fused),
//   gx = r * (gamma * gz - mean_g(gamma * gz) - xHat * mean_g(gamma * gz * xHat)),
//   gGamma = sum_{n,s} gz * xHat, gBeta = sum_{n,s} gz.
static Napi::Value GroupNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "groupNormBackward";
  return guard(info, op, [&] {
    const GnShape d = gnShape(info, 9, op);
    const bool silu = boolArg(info, 13, op, "silu");
    const size_t total = static_cast<size_t>(d.total), ng = static_cast<size_t>(d.n * d.groups);
    F32 x = f32Arg(info, 0, op, "x", total);
    F32 gamma = f32Arg(info, 1, op, "gamma", static_cast<size_t>(d.c));
    F32 beta = f32Arg(info, 2, op, "beta", static_cast<size_t>(d.c));
    F32 mean = f32Arg(info, 3, op, "mean", ng);
    F32 rstd = f32Arg(info, 4, op, "rstd", ng);
    F32 gy = f32Arg(info, 5, op, "gy", total);
    F32 gx = f32Arg(info, 6, op, "gx", total);
    F32 gGamma = f32Arg(info, 7, op, "gGamma", static_cast<size_t>(d.c));
    F32 gBeta = f32Arg(info, 8, op, "gBeta", static_cast<size_t>(d.c));
    const int64_t c = d.c, cg = d.cg, G = d.groups;
    const double m = static_cast<double>(d.s * cg);
    const float *xs = x.data, *gys = gy.data, *ga = gamma.data, *be = beta.data;
    float* gxs = gx.data;

    // Per (n, c) copies of the group statistics, so inner loops run over contiguous channels.
    std::vector<float> muC(static_cast<size_t>(d.n * c)), rC(static_cast<size_t>(d.n * c)),
        scale(static_cast<size_t>(d.n * c));
    for (int64_t i = 0; i < d.n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        muC[i * c + ch] = mean.data[i * G + ch / cg];
        rC[i * c + ch] = rstd.data[i * G + ch / cg];
        scale[i * c + ch] = rC[i * c + ch] * ga[ch];
      }
    }

    // Pass 1: per (sample, chunk, channel) sums of gz and gz * xHat; when fused, gz is
    // computed once here and parked in gx for pass 2.
    std::vector<double> acc1(static_cast<size_t>(d.n * d.chunks * c), 0.0), acc2(acc1.size(), 0.0);
    const int64_t tasks = d.n * d.chunks;
#pragma omp parallel for schedule(static) if (d.total > kNormParallelMin)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t i = t / d.chunks, k = t % d.chunks;
      const int64_t p0 = k * d.ppc, p1 = std::min(d.s, p0 + d.ppc);
      double* a1 = acc1.data() + t * c;
      double* a2 = acc2.data() + t * c;
      const float* mu = muC.data() + i * c;
      const float* r = rC.data() + i * c;
      const float* sc = scale.data() + i * c;
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t off = (i * d.s + p) * c;
        if (silu) {
          for (int64_t ch = 0; ch < c; ++ch) {
            const float xHat = (xs[off + ch] - mu[ch]) * r[ch];
            const float z = (xs[off + ch] - mu[ch]) * sc[ch] + be[ch];
            const float sg = sigmoidf(z);
            const float gz = gys[off + ch] * sg * (1.0f + z * (1.0f - sg));
            gxs[off + ch] = gz;
            a1[ch] += gz;
            a2[ch] += static_cast<double>(gz) * xHat;
          }
        } else {
          for (int64_t ch = 0; ch < c; ++ch) {
            const float xHat = (xs[off + ch] - mu[ch]) * r[ch];
            a1[ch] += gys[off + ch];
            a2[ch] += static_cast<double>(gys[off + ch]) * xHat;
          }
        }
      }
    }

    // Reduce in a fixed order: gBeta, gGamma, and per (n, g) the two group means, folded into
    // per (n, c) coefficients k1 = r * mean_g(gamma * gz), k2 = r * mean_g(gamma * gz * xHat).
    std::vector<double> gb(static_cast<size_t>(c), 0.0), gg(static_cast<size_t>(c), 0.0);
    std::vector<float> k1(static_cast<size_t>(d.n * c)), k2(static_cast<size_t>(d.n * c));
    for (int64_t i = 0; i < d.n; ++i) {
      for (int64_t g = 0; g < G; ++g) {
        double sum1 = 0, sum2 = 0;
        for (int64_t j = 0; j < cg; ++j) {
          const int64_t ch = g * cg + j;
          const double db = gnReduce(d, acc1, i, ch), ds = gnReduce(d, acc2, i, ch);
          gb[ch] += db;
          gg[ch] += ds;
          sum1 += ga[ch] * db;
          sum2 += ga[ch] * ds;
        }
        const double r = rstd.data[i * G + g];
        for (int64_t j = 0; j < cg; ++j) {
          k1[i * c + g * cg + j] = static_cast<float>(r * sum1 / m);
          k2[i * c + g * cg + j] = static_cast<float>(r * sum2 / m);
        }
      }
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      gGamma.data[ch] = static_cast<float>(gg[ch]);
      gBeta.data[ch] = static_cast<float>(gb[ch]);
    }

    // Pass 2: gx = scale * gz - k1 - xHat * k2.
    const float* gzs = silu ? gxs : gys;
    const int64_t rows = d.n * d.s;
#pragma omp parallel for schedule(static) if (d.total > kNormParallelMin)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t i = row / d.s;
      const int64_t off = row * c;
      const float *mu = muC.data() + i * c, *r = rC.data() + i * c, *sc = scale.data() + i * c;
      const float *a = k1.data() + i * c, *b = k2.data() + i * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        const float xHat = (xs[off + ch] - mu[ch]) * r[ch];
        gxs[off + ch] = sc[ch] * gzs[off + ch] - a[ch] - xHat * b[ch];
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Layer norm over the last axis, x viewed as (rows, d)

// layerNormForward(x, gamma, beta, y, mean, rstd, rows, d, eps); gamma/beta may be empty (none).
static Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  const char* op = "layerNormForward";
  return guard(info, op, [&] {
    const int64_t rows = intArg(info, 6, op, "rows"), dd = intArg(info, 7, op, "d", 1);
    const double eps = numArg(info, 8, op, "eps");
    const int64_t total = sizeProduct(op, {rows, dd});
    F32 x = f32Arg(info, 0, op, "x", static_cast<size_t>(total));
    F32 gamma = optionalF32(info, 1, op, "gamma", static_cast<size_t>(dd));
    F32 beta = optionalF32(info, 2, op, "beta", static_cast<size_t>(dd));
    F32 y = f32Arg(info, 3, op, "y", static_cast<size_t>(total));
    F32 mean = f32Arg(info, 4, op, "mean", static_cast<size_t>(rows));
    F32 rstd = f32Arg(info, 5, op, "rstd", static_cast<size_t>(rows));
    const float *ga = gamma.size ? gamma.data : nullptr, *be = beta.size ? beta.data : nullptr;
#pragma omp parallel for schedule(static) if (total > kNormParallelMin)
    for (int64_t i = 0; i < rows; ++i) {
      const float* xr = x.data + i * dd;
      float* yr = y.data + i * dd;
      double sum = 0;
      for (int64_t j = 0; j < dd; ++j) sum += xr[j];
      const double mu = sum / static_cast<double>(dd);
      double ss = 0;
      for (int64_t j = 0; j < dd; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
      const double r = 1.0 / std::sqrt(ss / static_cast<double>(dd) + eps);
      mean.data[i] = static_cast<float>(mu);
      rstd.data[i] = static_cast<float>(r);
      const float muF = static_cast<float>(mu), rF = static_cast<float>(r);
      for (int64_t j = 0; j < dd; ++j) {
        const float xHat = (xr[j] - muF) * rF;
        yr[j] = xHat * (ga ? ga[j] : 1.0f) + (be ? be[j] : 0.0f);
      }
    }
  });
}

// layerNormBackward(x, gamma, mean, rstd, gy, gx, gGamma, gBeta, rows, d); gamma, gGamma and
// gBeta may be empty (no gamma; gradient not wanted).
static Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "layerNormBackward";
  return guard(info, op, [&] {
    const int64_t rows = intArg(info, 8, op, "rows"), dd = intArg(info, 9, op, "d", 1);
    const int64_t total = sizeProduct(op, {rows, dd});
    F32 x = f32Arg(info, 0, op, "x", static_cast<size_t>(total));
    F32 gamma = optionalF32(info, 1, op, "gamma", static_cast<size_t>(dd));
    F32 mean = f32Arg(info, 2, op, "mean", static_cast<size_t>(rows));
    F32 rstd = f32Arg(info, 3, op, "rstd", static_cast<size_t>(rows));
    F32 gy = f32Arg(info, 4, op, "gy", static_cast<size_t>(total));
    F32 gx = f32Arg(info, 5, op, "gx", static_cast<size_t>(total));
    F32 gGamma = optionalF32(info, 6, op, "gGamma", static_cast<size_t>(dd));
    F32 gBeta = optionalF32(info, 7, op, "gBeta", static_cast<size_t>(dd));
    const float* ga = gamma.size ? gamma.data : nullptr;
    const bool wantParams = gGamma.size > 0 || gBeta.size > 0;
    // Fixed row chunks with their own partial gGamma/gBeta, reduced in order afterwards.
    const int64_t rpc = std::max<int64_t>(1, kNormChunkElems / dd);
    const int64_t chunks = (rows + rpc - 1) / rpc;
    std::vector<double> pg(wantParams ? static_cast<size_t>(chunks * dd) : 0, 0.0), pb(pg.size(), 0.0);
#pragma omp parallel for schedule(static) if (total > kNormParallelMin)
    for (int64_t k = 0; k < chunks; ++k) {
      for (int64_t i = k * rpc; i < std::min(rows, (k + 1) * rpc); ++i) {
        const float *xr = x.data + i * dd, *gr = gy.data + i * dd;
        float* out = gx.data + i * dd;
        const float mu = mean.data[i], r = rstd.data[i];
        double sum1 = 0, sum2 = 0;  // sums of dL/dxHat and dL/dxHat * xHat
        for (int64_t j = 0; j < dd; ++j) {
          const float gh = gr[j] * (ga ? ga[j] : 1.0f);
          sum1 += gh;
          sum2 += static_cast<double>(gh) * ((xr[j] - mu) * r);
        }
        if (wantParams) {
          double *a = pg.data() + k * dd, *b = pb.data() + k * dd;
          for (int64_t j = 0; j < dd; ++j) {
            a[j] += static_cast<double>(gr[j]) * ((xr[j] - mu) * r);
            b[j] += gr[j];
          }
        }
        const float m1 = static_cast<float>(sum1 / static_cast<double>(dd));
        const float m2 = static_cast<float>(sum2 / static_cast<double>(dd));
        for (int64_t j = 0; j < dd; ++j) {
          const float gh = gr[j] * (ga ? ga[j] : 1.0f);
          out[j] = r * (gh - m1 - (xr[j] - mu) * r * m2);
        }
      }
    }
    if (wantParams) {
      for (int64_t j = 0; j < dd; ++j) {
        double a = 0, b = 0;
        for (int64_t k = 0; k < chunks; ++k) {
          a += pg[k * dd + j];
          b += pb[k * dd + j];
        }
        if (gGamma.size) gGamma.data[j] = static_cast<float>(a);
        if (gBeta.size) gBeta.data[j] = static_cast<float>(b);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Softmax over the last axis, x viewed as (rows, d)

// softmaxForward(x, y, rows, d)
static Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  const char* op = "softmaxForward";
  return guard(info, op, [&] {
    const int64_t rows = intArg(info, 2, op, "rows"), dd = intArg(info, 3, op, "d", 1);
    const int64_t total = sizeProduct(op, {rows, dd});
    F32 x = f32Arg(info, 0, op, "x", static_cast<size_t>(total));
    F32 y = f32Arg(info, 1, op, "y", static_cast<size_t>(total));
#pragma omp parallel for schedule(static) if (total > kNormParallelMin)
    for (int64_t i = 0; i < rows; ++i) {
      const float* xr = x.data + i * dd;
      float* yr = y.data + i * dd;
      // The row max keeps exp from overflowing. A NaN entry needs no special case: its exp is
      // NaN, so the sum and then the whole row become NaN (as in PyTorch).
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < dd; ++j) mx = xr[j] > mx ? xr[j] : mx;
      double sum = 0;
      for (int64_t j = 0; j < dd; ++j) yr[j] = expVec(xr[j] - mx);
      for (int64_t j = 0; j < dd; ++j) sum += yr[j];
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < dd; ++j) yr[j] *= inv;
    }
  });
}

// softmaxBackward(y, gy, gx, rows, d): gx = y * (gy - sum(gy * y))
static Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const char* op = "softmaxBackward";
  return guard(info, op, [&] {
    const int64_t rows = intArg(info, 3, op, "rows"), dd = intArg(info, 4, op, "d", 1);
    const int64_t total = sizeProduct(op, {rows, dd});
    F32 y = f32Arg(info, 0, op, "y", static_cast<size_t>(total));
    F32 gy = f32Arg(info, 1, op, "gy", static_cast<size_t>(total));
    F32 gx = f32Arg(info, 2, op, "gx", static_cast<size_t>(total));
#pragma omp parallel for schedule(static) if (total > kNormParallelMin)
    for (int64_t i = 0; i < rows; ++i) {
      const float *yr = y.data + i * dd, *gr = gy.data + i * dd;
      float* out = gx.data + i * dd;
      double dot = 0;
      for (int64_t j = 0; j < dd; ++j) dot += static_cast<double>(gr[j]) * yr[j];
      const float dotF = static_cast<float>(dot);
      for (int64_t j = 0; j < dd; ++j) out[j] = yr[j] * (gr[j] - dotF);
    }
  });
}

void InitNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("groupNormForward", Napi::Function::New(env, GroupNormForward));
  exports.Set("groupNormBackward", Napi::Function::New(env, GroupNormBackward));
  exports.Set("layerNormForward", Napi::Function::New(env, LayerNormForward));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward));
  exports.Set("softmaxForward", Napi::Function::New(env, SoftmaxForward));
  exports.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward));
}

}  // namespace diffuse
