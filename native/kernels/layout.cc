// Layout kernels: data movement without arithmetic. permute (strided copy, tiled for transposes),
// concat/split of row-major slabs (the U-Net's skip connections along channels), nearest 2x
// upsampling NHWC and its 2x2-block-sum gradient, embedding gather and scatter-add.
// Contracts: src/backend/kernels/layout.ts.
#include <omp.h>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
#include "common.h"

namespace diffuse {

// Below this many elements a parallel region costs more than the copy.
constexpr int64_t kLayoutParallelMin = 1 << 15;
// Highest tensor rank permute accepts (NHWC needs 4; attention reshapes need 5 or 6).
constexpr size_t kMaxRank = 16;
// Tile edge for transposing copies: 32x32 floats = 4 KiB per side, well inside L1.
constexpr int64_t kTile = 32;

// a * b for sizes, or an error naming the op if it overflows (hostile arguments must not wrap
// around into a size that passes the buffer checks).
static int64_t mulSize(int64_t a, int64_t b, const char* op) {
  int64_t r;
  require(!__builtin_mul_overflow(a, b, &r), std::string(op) + ": sizes overflow (" + std::to_string(a) + " x " +
                                                  std::to_string(b) + ")");
  return r;
}

// Product of an Int32Array's entries, each checked to be >= 0.
// Entries of an Int32Array, each checked to be >= 0 (slab widths: summed, never multiplied).
static void checkedEntries(const Napi::Int32Array& a, const char* op, const char* name, std::vector<int64_t>& out) {
  out.resize(a.ElementLength());
  for (size_t i = 0; i < a.ElementLength(); ++i) {
    require(a[i] >= 0, std::string(op) + ": argument '" + name + "' has a negative entry " + std::to_string(a[i]) +
                           " at position " + std::to_string(i));
    out[i] = a[i];
  }
}

static int64_t checkedDims(const Napi::Int32Array& a, const char* op, const char* name,
                           std::vector<int64_t>& dims) {
  int64_t n = 1;
  dims.resize(a.ElementLength());
  for (size_t i = 0; i < a.ElementLength(); ++i) {
    require(a[i] >= 0, std::string(op) + ": argument '" + name + "' has a negative entry " +
                           std::to_string(a[i]) + " at position " + std::to_string(i));
    dims[i] = a[i];
    n = mulSize(n, a[i], op);
  }
  return n;
}

static Napi::Value Permute(const Napi::CallbackInfo& info) {
  return guard(info, "permute", [&] {
    F32 x = f32Arg(info, 0, "permute", "x");
    Napi::Int32Array shapeArr = i32Arg(info, 1, "permute", "shape");
    Napi::Int32Array axesArr = i32Arg(info, 2, "permute", "axes");
    const size_t r = shapeArr.ElementLength();
    require(r <= kMaxRank, "permute: rank " + std::to_string(r) + " exceeds the maximum " + std::to_string(kMaxRank));
    require(axesArr.ElementLength() == r, "permute: argument 'axes' has " + std::to_string(axesArr.ElementLength()) +
                                              " entries, expected the rank " + std::to_string(r));
    std::vector<int64_t> shape;
    const int64_t n = checkedDims(shapeArr, "permute", "shape", shape);
    require(x.size == static_cast<size_t>(n), "permute: argument 'x' has " + std::to_string(x.size) +
                                                  " elements, expected " + std::to_string(n) + " (the product of 'shape')");
    F32 out = f32Arg(info, 3, "permute", "out", x.size);
    std::vector<bool> seen(r, false);
    for (size_t i = 0; i < r; ++i) {
      const int32_t a = axesArr[i];
      require(a >= 0 && static_cast<size_t>(a) < r && !seen[a],
              "permute: argument 'axes' is not a permutation of 0.." + std::to_string(r == 0 ? 0 : r - 1) +
                  " (entry " + std::to_string(a) + " at position " + std::to_string(i) + ")");
      seen[a] = true;
    }
    if (n == 0) return;

    // Output dims with the input stride of each; drop size-1 axes and merge output neighbours
    // that are also neighbours in the input, so e.g. NHWC->NWHC becomes a copy of C-rows.
    std::vector<int64_t> inStride(r, 1);
    for (size_t k = r; k-- > 1;) inStride[k - 1] = inStride[k] * shape[k];
    std::vector<int64_t> dim, st;
    for (size_t i = 0; i < r; ++i) {
      const int64_t d = shape[axesArr[i]], s = inStride[axesArr[i]];
      if (d == 1) continue;
      if (!dim.empty() && st.back() == s * d) {
        dim.back() *= d;
        st.back() = s;
      } else {
        dim.push_back(d);
        st.push_back(s);
      }
    }
    const float* src = x.data;
    float* dst = out.data;
    const size_t m = dim.size();
    if (m <= 1) {  // the identity on the data
      std::memcpy(dst, src, sizeof(float) * n);
      return;
    }
    // Output strides of the merged axes.
    std::vector<int64_t> oStride(m, 1);
    for (size_t k = m; k-- > 1;) oStride[k - 1] = oStride[k] * dim[k];
    const bool par = n > kLayoutParallelMin;

    if (st[m - 1] == 1) {
      // The innermost output axis is contiguous in the input: copy rows of dim[m-1].
      const int64_t row = dim[m - 1], rows = n / row;
#pragma omp parallel for schedule(static) if (par)
      for (int64_t q = 0; q < rows; ++q) {
        int64_t rem = q, off = 0;
        for (size_t k = m - 1; k-- > 0;) {
          off += (rem % dim[k]) * st[k];
          rem /= dim[k];
        }
        std::memcpy(dst + q * row, src + off, sizeof(float) * row);
      }
      return;
    }

    // A transposing copy: the input's contiguous axis p lands somewhere before the output's
    // last axis. Tile (p, last) in kTile x kTile blocks so both reads and writes stay in cache.
    size_t p = 0;
    for (size_t k = 0; k < m; ++k)
      if (st[k] == 1) p = k;
    const int64_t dp = dim[p], dl = dim[m - 1], sl = st[m - 1], op = oStride[p];
    const int64_t outer = n / (dp * dl);
    const int64_t bp = (dp + kTile - 1) / kTile, bl = (dl + kTile - 1) / kTile;
    const int64_t tasks = outer * bp * bl;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t jl = (t % bl) * kTile, ip = ((t / bl) % bp) * kTile, q = t / (bl * bp);
      // Base offsets of outer index q over the axes other than p and the last.
      int64_t rem = q, in0 = 0, out0 = 0;
      for (size_t k = m - 1; k-- > 0;) {
        if (k == p) continue;
        const int64_t ik = rem % dim[k];
        rem /= dim[k];
        in0 += ik * st[k];
        out0 += ik * oStride[k];
      }
      const int64_t ipEnd = std::min(ip + kTile, dp), jlEnd = std::min(jl + kTile, dl);
      for (int64_t i = ip; i < ipEnd; ++i) {
        const float* s = src + in0 + i;
        float* d = dst + out0 + i * op;
        for (int64_t j = jl; j < jlEnd; ++j) d[j] = s[j * sl];
      }
    }
  });
}

// The Float32Array-or-null entries of a JS array argument, with their sizes checked against
// outer * inners[k]. Pointers are gathered here because N-API must not be touched inside
// parallel regions.
static std::vector<float*> slabArgs(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                                    int64_t outer, const std::vector<int64_t>& inners) {
  require(i < info.Length() && info[i].IsArray(),
          std::string(op) + ": argument '" + name + "' must be an Array of Float32Array or null, found " +
              (i < info.Length() ? describe(info[i]) : std::string("nothing")));
  Napi::Array arr = info[i].As<Napi::Array>();
  require(arr.Length() == inners.size(), std::string(op) + ": argument '" + name + "' has " +
                                             std::to_string(arr.Length()) + " entries, expected " +
                                             std::to_string(inners.size()) + " (one per entry of 'inners')");
  std::vector<float*> ptrs(inners.size(), nullptr);
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (v.IsNull() || v.IsUndefined()) continue;
    const std::string what = std::string(name) + "[" + std::to_string(k) + "]";
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw ArgError(std::string(op) + ": argument '" + what + "' must be a Float32Array or null, found " + describe(v), true);
    }
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    const int64_t want = outer * inners[k];
    require(static_cast<int64_t>(a.ElementLength()) == want,
            std::string(op) + ": argument '" + what + "' has " + std::to_string(a.ElementLength()) +
                " elements, expected " + std::to_string(want) + " (outer " + std::to_string(outer) + " x inner " +
                std::to_string(inners[k]) + ")");
    ptrs[k] = a.Data();
  }
  return ptrs;
}

// concat(xs, outer, inners, out) and split(x, outer, inners, outs) share one row loop.
template <bool kConcat>
static void slabCopy(const Napi::CallbackInfo& info, const char* op) {
  const size_t slabsAt = kConcat ? 0 : 3, wholeAt = kConcat ? 3 : 0;
  const int64_t outer = intArg(info, 1, op, "outer");
  std::vector<int64_t> inners;
  checkedEntries(i32Arg(info, 2, op, "inners"), op, "inners", inners);
  int64_t total = 0;  // the width of one row of the whole buffer (inners are int32, so no overflow)
  for (int64_t v : inners) total += v;
  F32 whole = f32Arg(info, wholeAt, op, kConcat ? "out" : "x", static_cast<size_t>(mulSize(outer, total, op)));
  std::vector<float*> slabs = slabArgs(info, slabsAt, op, kConcat ? "xs" : "outs", outer, inners);
  const size_t K = inners.size();
  float* big = whole.data;
#pragma omp parallel for schedule(static) if (outer * total > kLayoutParallelMin && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    float* row = big + o * total;
    for (size_t k = 0; k < K; ++k) {
      const int64_t w = inners[k];
      float* s = slabs[k];
      if (kConcat) {
        if (s) std::memcpy(row, s + o * w, sizeof(float) * w);
        else std::memset(row, 0, sizeof(float) * w);
      } else if (s) {
        std::memcpy(s + o * w, row, sizeof(float) * w);
      }
      row += w;
    }
  }
}

static Napi::Value Concat(const Napi::CallbackInfo& info) {
  return guard(info, "concat", [&] { slabCopy<true>(info, "concat"); });
}

static Napi::Value Split(const Napi::CallbackInfo& info) {
  return guard(info, "split", [&] { slabCopy<false>(info, "split"); });
}

// (n, h, w, c) and the element count n*h*w*c, from arguments 1..4.
struct Nhwc {
  int64_t n, h, w, c;
  int64_t size() const { return n * h * w * c; }
};
static Nhwc nhwcArgs(const Napi::CallbackInfo& info, const char* op) {
  Nhwc s{intArg(info, 1, op, "n"), intArg(info, 2, op, "h"), intArg(info, 3, op, "w"), intArg(info, 4, op, "c")};
  mulSize(mulSize(mulSize(mulSize(s.n, s.h, op), s.w, op), s.c, op), 4, op);  // 4x: the upsampled size
  return s;
}

static Napi::Value UpsampleNearest2x(const Napi::CallbackInfo& info) {
  const char* op = "upsampleNearest2x";
  return guard(info, op, [&] {
    const Nhwc s = nhwcArgs(info, op);
    F32 x = f32Arg(info, 0, op, "x", static_cast<size_t>(s.size()));
    F32 out = f32Arg(info, 5, op, "out", static_cast<size_t>(4 * s.size()));
    const int64_t rows = s.n * 2 * s.h, W = s.w, C = s.c;
    const float* src = x.data;
    float* dst = out.data;
    // One output row (2W pixels) per iteration; rows 2i and 2i+1 both read input row i.
#pragma omp parallel for schedule(static) if (4 * s.size() > kLayoutParallelMin)
    for (int64_t q = 0; q < rows; ++q) {
      const int64_t b = q / (2 * s.h), i = (q % (2 * s.h)) / 2;
      const float* in = src + (b * s.h + i) * W * C;
      float* o = dst + q * 2 * W * C;
      for (int64_t j = 0; j < W; ++j) {
        std::memcpy(o + 2 * j * C, in + j * C, sizeof(float) * C);
        std::memcpy(o + (2 * j + 1) * C, in + j * C, sizeof(float) * C);
      }
    }
  });
}

static Napi::Value UpsampleNearest2xBackward(const Napi::CallbackInfo& info) {
  const char* op = "upsampleNearest2xBackward";
  return guard(info, op, [&] {
    const Nhwc s = nhwcArgs(info, op);
    F32 gy = f32Arg(info, 0, op, "gy", static_cast<size_t>(4 * s.size()));
    F32 gx = f32Arg(info, 5, op, "gx", static_cast<size_t>(s.size()));
    const int64_t rows = s.n * s.h, W = s.w, C = s.c, W2C = 2 * W * C;
    const float* g = gy.data;
    float* o = gx.data;
#pragma omp parallel for schedule(static) if (4 * s.size() > kLayoutParallelMin)
    for (int64_t q = 0; q < rows; ++q) {
      const float* top = g + 2 * q * W2C;  // gy row 2i of image b is row 2q overall
      const float* bot = top + W2C;
      float* d = o + q * W * C;
      for (int64_t j = 0; j < W; ++j)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t a = 2 * j * C + c;
          d[j * C + c] = (top[a] + top[a + C]) + (bot[a] + bot[a + C]);
        }
    }
  });
}

// Every index in [0, v), or a RangeError naming the first bad one, its position and v.
static void checkIndices(const Napi::Int32Array& idx, int64_t v, const char* op) {
  for (size_t i = 0; i < idx.ElementLength(); ++i) {
    const int32_t r = idx[i];
    require(r >= 0 && r < v, std::string(op) + ": index " + std::to_string(r) + " at position " + std::to_string(i) +
                                 " is out of range for " + std::to_string(v) + " rows (valid: 0.." +
                                 std::to_string(v - 1) + ")");
  }
}

static Napi::Value Embedding(const Napi::CallbackInfo& info) {
  const char* op = "embedding";
  return guard(info, op, [&] {
    const int64_t v = intArg(info, 1, op, "v"), d = intArg(info, 2, op, "d");
    F32 w = f32Arg(info, 0, op, "weight", static_cast<size_t>(mulSize(v, d, op)));
    Napi::Int32Array idx = i32Arg(info, 3, op, "indices");
    const int64_t m = static_cast<int64_t>(idx.ElementLength());
    F32 out = f32Arg(info, 4, op, "out", static_cast<size_t>(mulSize(m, d, op)));
    checkIndices(idx, v, op);
    const int32_t* ix = idx.Data();
    const float* src = w.data;
    float* dst = out.data;
#pragma omp parallel for schedule(static) if (m * d > kLayoutParallelMin)
    for (int64_t i = 0; i < m; ++i) std::memcpy(dst + i * d, src + ix[i] * d, sizeof(float) * d);
  });
}

static Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  const char* op = "embeddingBackward";
  return guard(info, op, [&] {
    Napi::Int32Array idx = i32Arg(info, 1, op, "indices");
    const int64_t v = intArg(info, 2, op, "v"), d = intArg(info, 3, op, "d");
    const int64_t m = static_cast<int64_t>(idx.ElementLength());
    F32 gy = f32Arg(info, 0, op, "gy", static_cast<size_t>(mulSize(m, d, op)));
    F32 gw = f32Arg(info, 4, op, "gw", static_cast<size_t>(mulSize(v, d, op)));
    checkIndices(idx, v, op);
    const int32_t* ix = idx.Data();
    const float* g = gy.data;
    float* o = gw.data;
    std::memset(o, 0, sizeof(float) * v * d);
    // Repeated indices accumulate into the same row, so threads split the columns, not the
    // indices: no races, and the summation order (hence the result) is thread-count independent.
    const bool par = m * d > kLayoutParallelMin && d >= 64;
#pragma omp parallel if (par)
    {
      const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t c0 = d * t / T, c1 = d * (t + 1) / T;
      for (int64_t i = 0; i < m; ++i) {
        const float* gi = g + i * d;
        float* row = o + ix[i] * d;
        for (int64_t c = c0; c < c1; ++c) row[c] += gi[c];
      }
    }
  });
}

void InitLayout(Napi::Env env, Napi::Object exports) {
  exports.Set("permute", Napi::Function::New(env, Permute));
  exports.Set("concat", Napi::Function::New(env, Concat));
  exports.Set("split", Napi::Function::New(env, Split));
  exports.Set("upsampleNearest2x", Napi::Function::New(env, UpsampleNearest2x));
  exports.Set("upsampleNearest2xBackward", Napi::Function::New(env, UpsampleNearest2xBackward));
  exports.Set("embedding", Napi::Function::New(env, Embedding));
  exports.Set("embeddingBackward", Napi::Function::New(env, EmbeddingBackward));
}

}  // namespace diffuse
