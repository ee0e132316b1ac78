// Broadcasting elementwise arithmetic (add, sub, mul, div), where, sum-reductions over any set
// of axes (sum, mean and the `sumTo` of broadcast gradients), broadcastTo, tensor-scalar ops and
// the fused squared-error loss. Op codes match BINARY_OPS / SCALAR_OPS in
// src/backend/kernels/binary.ts (same order).
//
// Broadcasting (NumPy rules) runs through one plan: size-1 axes are dropped and neighbouring
// axes that every operand walks contiguously are merged, so (N,H,W,C)+(C) becomes rows of C
// with b repeating, (N,1,1,1)*(N,H,W,C) becomes N rows of H*W*C with a constant, and equal
// shapes become one flat loop. The innermost axis is then split into fixed segments, which are
// the unit of OpenMP work.
//
// Sums accumulate in double. Work is split into chunks whose layout depends only on the shapes,
// and partial sums are combined in chunk order, so a result is bit-identical whatever the
// thread count (DESIGN.md: determinism).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#include "common.h"

namespace diffuse {

namespace {

enum BinaryOp { kAdd, kSub, kMul, kDiv, kBinaryCount };
enum ScalarOp { kSAdd, kSSub, kSRsub, kSMul, kSDiv, kSPow, kSClamp, kScalarCount };

// Enough for any tensor we make (NHWC is 4); more is rejected with a message.
constexpr int kMaxRank = 16;
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;
// Innermost-axis segment length: one unit of parallel elementwise work (fits L1 for 3 operands).
constexpr int64_t kSegment = 1 << 12;
// Elements one reduction work item sums before its partial is stored (shape-only, so deterministic).
constexpr int64_t kChunkElems = 1 << 15;
// Reductions with at least this many independent outputs (or column segments) need no partials.
constexpr int64_t kEnoughItems = 64;
// Column segment of a reduction that keeps the innermost axis (accumulators live on the stack).
constexpr int64_t kColSegment = 512;

using Shape = std::vector<int64_t>;

std::string fmt(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Element count; a zero anywhere wins first, so huge sizes beside a 0 cannot overflow.
int64_t numel(const Shape& s) {
  for (int64_t d : s)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Shape argument i (an Int32Array of non-negative sizes, rank <= kMaxRank).
Shape shapeArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Napi::Int32Array a = i32Arg(info, i, op, name);
  require(a.ElementLength() <= static_cast<size_t>(kMaxRank),
          std::string(op) + ": argument '" + name + "' has rank " + std::to_string(a.ElementLength()) +
              ", at most " + std::to_string(kMaxRank) + " is supported");
  Shape s(a.ElementLength());
  for (size_t k = 0; k < s.size(); ++k) {
    require(a[k] >= 0, std::string(op) + ": argument '" + name + "' has a negative size " + std::to_string(a[k]));
    s[k] = a[k];
  }
  int64_t n = 1;
  for (int64_t d : s)
    require(!__builtin_mul_overflow(n, d, &n) || numel(s) == 0,
            std::string(op) + ": argument '" + name + "' " + fmt(s) + " has too many elements");
  return s;
}

// A buffer and its shape; the buffer must hold exactly numel(shape) elements.
struct Operand {
  const float* data;
  Shape shape;
};

Operand operandArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                   const char* shapeName) {
  Shape s = shapeArg(info, i + 1, op, shapeName);
  F32 a = f32Arg(info, i, op, name, static_cast<size_t>(numel(s)));
  return {a.data, std::move(s)};
}

// K operands broadcast to one output, with size-1 axes dropped and mergeable axes merged.
template <int K>
struct Plan {
  int rank = 0;
  int64_t size[kMaxRank];
  int64_t stride[K][kMaxRank];  // element strides; 0 where the operand repeats
  int64_t total = 1;
};

template <int K>
Plan<K> makePlan(const char* op, const Shape& out, const Shape* const in[K], const char* const names[K]) {
  const int r = static_cast<int>(out.size());
  int64_t st[K][kMaxRank];
  for (int k = 0; k < K; ++k) {
    const Shape& s = *in[k];
    require(s.size() <= out.size(), std::string(op) + ": argument '" + names[k] + "' of shape " + fmt(s) +
                                        " has more axes than the output " + fmt(out));
    const int off = r - static_cast<int>(s.size());
    int64_t acc = 1;
    for (int d = r - 1; d >= 0; --d) {
      const int64_t sd = d >= off ? s[d - off] : 1;
      require(sd == out[d] || sd == 1, std::string(op) + ": argument '" + names[k] + "' of shape " + fmt(s) +
                                           " does not broadcast to " + fmt(out) + " (axis " + std::to_string(d) + ")");
      st[k][d] = sd == 1 ? 0 : acc;
      acc *= sd;
    }
  }
  Plan<K> p;
  p.total = numel(out);
  for (int d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    if (p.rank > 0) {
      // The outer axis merges into this one if every operand steps over it as one run.
      bool merge = true;
      for (int k = 0; k < K; ++k) merge = merge && p.stride[k][p.rank - 1] == st[k][d] * out[d];
      if (merge) {
        p.size[p.rank - 1] *= out[d];
        for (int k = 0; k < K; ++k) p.stride[k][p.rank - 1] = st[k][d];
        continue;
      }
    }
    p.size[p.rank] = out[d];
    for (int k = 0; k < K; ++k) p.stride[k][p.rank] = st[k][d];
    ++p.rank;
  }
  if (p.rank == 0) {  // a single element
    p.rank = 1;
    p.size[0] = 1;
    for (int k = 0; k < K; ++k) p.stride[k][0] = 0;
  }
  return p;
}

// Calls body(off, outOff, len) for each segment of the innermost axis: off[k] is operand k's
// offset, and along the segment operand k advances by p.stride[k][rank-1] (0 or 1).
template <int K, typename Body>
void forEachSegment(const Plan<K>& p, Body body) {
  if (p.total == 0) return;
  const int last = p.rank - 1;
  const int64_t len = p.size[last];
  const int64_t rows = p.total / len;
  const int64_t segs = (len + kSegment - 1) / kSegment;
  const int64_t items = rows * segs;
#pragma omp parallel for schedule(static) if (p.total > kParallelMin)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t row = it / segs;
    const int64_t start = (it % segs) * kSegment;
    int64_t off[K];
    for (int k = 0; k < K; ++k) off[k] = start * p.stride[k][last];
    int64_t rem = row;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t i = rem % p.size[d];
      rem /= p.size[d];
      for (int k = 0; k < K; ++k) off[k] += i * p.stride[k][d];
    }
    body(off, row * len + start, std::min(kSegment, len - start));
  }
}

struct Add { float operator()(float x, float y) const { return x + y; } };
struct Sub { float operator()(float x, float y) const { return x - y; } };
struct Mul { float operator()(float x, float y) const { return x * y; } };
struct Div { float operator()(float x, float y) const { return x / y; } };

// One segment of out = f(a, b); the four stride patterns get their own (vectorisable) loops.
template <typename F>
inline void binarySegment(const float* a, bool aStep, const float* b, bool bStep, float* o, int64_t n, F f) {
  if (aStep && bStep) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (aStep) {
    const float y = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], y);
  } else if (bStep) {
    const float x = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = f(x, b[i]);
  } else {
    const float v = f(*a, *b);
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  }
}

template <typename F>
void binaryRun(const Plan<2>& p, const float* a, const float* b, float* o, F f) {
  const bool aStep = p.stride[0][p.rank - 1] != 0, bStep = p.stride[1][p.rank - 1] != 0;
  forEachSegment<2>(p, [&](const int64_t* off, int64_t oo, int64_t n) {
    binarySegment(a + off[0], aStep, b + off[1], bStep, o + oo, n, f);
  });
}

const char* binaryName(int64_t op) {
  static const char* names[] = {"add", "sub", "mul", "div"};
  return op >= 0 && op < kBinaryCount ? names[op] : "binary";
}

// binary(op, a, aShape, b, bShape, out, outShape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const char* name = "binary";
  if (info.Length() > 0 && info[0].IsNumber()) name = binaryName(info[0].As<Napi::Number>().Int64Value());
  return guard(info, name, [&] {
    const int64_t op = intArg(info, 0, name, "op");
    require(op < kBinaryCount, std::string("binary: unknown op code ") + std::to_string(op));
    Operand a = operandArg(info, 1, name, "a", "aShape");
    Operand b = operandArg(info, 3, name, "b", "bShape");
    Shape os = shapeArg(info, 6, name, "outShape");
    F32 out = f32Arg(info, 5, name, "out", static_cast<size_t>(numel(os)));
    const Shape* in[2] = {&a.shape, &b.shape};
    const char* names[2] = {"a", "b"};
    Plan<2> p = makePlan<2>(name, os, in, names);
    switch (op) {
      case kAdd: binaryRun(p, a.data, b.data, out.data, Add{}); break;
      case kSub: binaryRun(p, a.data, b.data, out.data, Sub{}); break;
      case kMul: binaryRun(p, a.data, b.data, out.data, Mul{}); break;
      case kDiv: binaryRun(p, a.data, b.data, out.data, Div{}); break;
    }
  });
}

// where(mask, maskShape, a, aShape, b, bShape, out, outShape): out = mask != 0 ? a : b.
Napi::Value Where(const Napi::CallbackInfo& info) {
  return guard(info, "where", [&] {
    Operand m = operandArg(info, 0, "where", "mask", "maskShape");
    Operand a = operandArg(info, 2, "where", "a", "aShape");
    Operand b = operandArg(info, 4, "where", "b", "bShape");
    Shape os = shapeArg(info, 7, "where", "outShape");
    F32 out = f32Arg(info, 6, "where", "out", static_cast<size_t>(numel(os)));
    const Shape* in[3] = {&m.shape, &a.shape, &b.shape};
    const char* names[3] = {"mask", "a", "b"};
    Plan<3> p = makePlan<3>("where", os, in, names);
    const int last = p.rank - 1;
    const int64_t sm = p.stride[0][last], sa = p.stride[1][last], sb = p.stride[2][last];
    forEachSegment<3>(p, [&](const int64_t* off, int64_t oo, int64_t n) {
      const float *mp = m.data + off[0], *ap = a.data + off[1], *bp = b.data + off[2];
      float* o = out.data + oo;
      if (sm && sa && sb) {  // the common case: one flat, vectorisable select
        for (int64_t i = 0; i < n; ++i) o[i] = mp[i] != 0.0f ? ap[i] : bp[i];
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = mp[i * sm] != 0.0f ? ap[i * sa] : bp[i * sb];
      }
    });
  });
}

// broadcastTo(x, xShape, out, outShape)
Napi::Value BroadcastTo(const Napi::CallbackInfo& info) {
  return guard(info, "broadcastTo", [&] {
    Operand x = operandArg(info, 0, "broadcastTo", "x", "xShape");
    Shape os = shapeArg(info, 3, "broadcastTo", "outShape");
    F32 out = f32Arg(info, 2, "broadcastTo", "out", static_cast<size_t>(numel(os)));
    const Shape* in[1] = {&x.shape};
    const char* names[1] = {"x"};
    Plan<1> p = makePlan<1>("broadcastTo", os, in, names);
    const bool step = p.stride[0][p.rank - 1] != 0;
    forEachSegment<1>(p, [&](const int64_t* off, int64_t oo, int64_t n) {
      if (step) std::memcpy(out.data + oo, x.data + off[0], static_cast<size_t>(n) * sizeof(float));
      else std::fill(out.data + oo, out.data + oo + n, x.data[off[0]]);
    });
  });
}

// Sum of a contiguous run in double; four chains in a fixed order (deterministic, and not
// latency-bound on one accumulator).
inline double sumRun(const float* x, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i];
    s1 += x[i + 1];
    s2 += x[i + 2];
    s3 += x[i + 3];
  }
  for (; i < n; ++i) s0 += x[i];
  return (s0 + s1) + (s2 + s3);
}

// An axis group of a reduction after merging: size and x stride.
struct Axis {
  int64_t size, stride;
};

// Offset in x of the linear index `idx` over `axes` (row-major).
inline int64_t offsetOf(int64_t idx, const std::vector<Axis>& axes) {
  int64_t off = 0;
  for (int d = static_cast<int>(axes.size()) - 1; d >= 0; --d) {
    off += (idx % axes[d].size) * axes[d].stride;
    idx /= axes[d].size;
  }
  return off;
}

// out = x summed over the axes where out (right-aligned) has size 1 and x does not.
void reduceSumImpl(const float* x, const Shape& xs, float* out, const Shape& os) {
  const int r = static_cast<int>(xs.size());
  require(os.size() <= xs.size(), "reduceSum: output shape " + fmt(os) + " has more axes than the input " + fmt(xs));
  const int off = r - static_cast<int>(os.size());
  const int64_t n = numel(xs), nOut = numel(os);
  if (nOut == 0) return;
  // Axis groups: consecutive axes of the same kind (kept / reduced) merge when contiguous.
  struct Group {
    int64_t size, stride;
    bool reduced;
  };
  std::vector<Group> g;
  int64_t stride[kMaxRank];
  int64_t acc = 1;
  for (int d = r - 1; d >= 0; --d) {
    stride[d] = acc;
    acc *= xs[d];
  }
  for (int d = 0; d < r; ++d) {
    const int64_t od = d >= off ? os[d - off] : 1;
    require(od == xs[d] || od == 1, "reduceSum: output shape " + fmt(os) + " does not broadcast to the input " +
                                        fmt(xs) + " (axis " + std::to_string(d) + ")");
    if (xs[d] == 1) continue;
    const bool red = od == 1;
    if (!g.empty() && g.back().reduced == red && g.back().stride == stride[d] * xs[d]) {
      g.back().size *= xs[d];
      g.back().stride = stride[d];
    } else {
      g.push_back({xs[d], stride[d], red});
    }
  }
  if (n == 0) {  // a sum over nothing
    std::fill(out, out + nOut, 0.0f);
    return;
  }
  if (g.empty()) g.push_back({1, 1, false});
  // The innermost group is walked contiguously; the rest split into kept and reduced axes.
  const Group inner = g.back();
  const int64_t len = inner.size;
  std::vector<Axis> keptAxes, redAxes;
  for (size_t i = 0; i + 1 < g.size(); ++i) (g[i].reduced ? redAxes : keptAxes).push_back({g[i].size, g[i].stride});
  int64_t O = 1, R = 1;
  for (const Axis& a : keptAxes) O *= a.size;
  for (const Axis& a : redAxes) R *= a.size;
  const bool par = n > kParallelMin;

  if (!inner.reduced) {
    // Rows of `len` kept values: out[o, c] = sum_r x[o, r, c]. Work items are
    // (output row, column segment, chunk of reduced rows).
    const int64_t colSegs = (len + kColSegment - 1) / kColSegment;
    const int64_t cw = std::min(len, kColSegment);
    const int64_t chunkRows = O * colSegs >= kEnoughItems ? R : std::max<int64_t>(1, kChunkElems / cw);
    const int64_t chunks = (R + chunkRows - 1) / chunkRows;
    std::vector<double> partial(chunks > 1 ? static_cast<size_t>(O * len * chunks) : 0);
    const int64_t items = O * colSegs * chunks;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t c = it % chunks, cs = (it / chunks) % colSegs, o = it / (chunks * colSegs);
      const int64_t c0 = cs * kColSegment, w = std::min(kColSegment, len - c0);
      double accum[kColSegment];
      std::fill(accum, accum + w, 0.0);
      const float* base = x + offsetOf(o, keptAxes) + c0;
      const int64_t r1 = std::min(R, (c + 1) * chunkRows);
      for (int64_t rr = c * chunkRows; rr < r1; ++rr) {
        const float* row = base + offsetOf(rr, redAxes);
        for (int64_t j = 0; j < w; ++j) accum[j] += row[j];
      }
      if (chunks == 1) {
        for (int64_t j = 0; j < w; ++j) out[o * len + c0 + j] = static_cast<float>(accum[j]);
      } else {
        double* dst = partial.data() + (o * chunks + c) * len + c0;
        std::copy(accum, accum + w, dst);
      }
    }
    if (chunks > 1) {
      // Combine partials in chunk order (thread-count independent); usually too small to split.
#pragma omp parallel for schedule(static) if (O * len * chunks > kParallelMin)
      for (int64_t k = 0; k < O * len; ++k) {
        const int64_t o = k / len, j = k % len;
        double s = 0;
        for (int64_t c = 0; c < chunks; ++c) s += partial[(o * chunks + c) * len + j];
        out[k] = static_cast<float>(s);
      }
    }
    return;
  }

  // Innermost axis reduced: out[o] = sum over reduced rows r and inner runs. The inner run is
  // cut into segments so a full reduction (one output) still spreads over threads.
  const int64_t segLen = std::min(len, kSegment);
  const int64_t segs = (len + segLen - 1) / segLen;
  const int64_t units = R * segs;  // (reduced row, segment) pairs per output
  const int64_t chunkUnits = O >= kEnoughItems ? units : std::max<int64_t>(1, kChunkElems / segLen);
  const int64_t chunks = (units + chunkUnits - 1) / chunkUnits;
  std::vector<double> partial(static_cast<size_t>(O * chunks));
  const int64_t items = O * chunks;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t o = it / chunks, c = it % chunks;
    const float* base = x + offsetOf(o, keptAxes);
    const int64_t u1 = std::min(units, (c + 1) * chunkUnits);
    double s = 0;
    for (int64_t u = c * chunkUnits; u < u1; ++u) {
      const int64_t rr = u / segs, s0 = (u % segs) * segLen;
      s += sumRun(base + offsetOf(rr, redAxes) + s0, std::min(segLen, len - s0));
    }
    partial[it] = s;
  }
  for (int64_t o = 0; o < O; ++o) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[o * chunks + c];
    out[o] = static_cast<float>(s);
  }
}

// reduceSum(x, xShape, out, outShape)
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  return guard(info, "reduceSum", [&] {
    Operand x = operandArg(info, 0, "reduceSum", "x", "xShape");
    Shape os = shapeArg(info, 3, "reduceSum", "outShape");
    F32 out = f32Arg(info, 2, "reduceSum", "out", static_cast<size_t>(numel(os)));
    reduceSumImpl(x.data, x.shape, out.data, os);
  });
}

const char* scalarName(int64_t op) {
  static const char* names[] = {"addScalar", "subScalar", "rsubScalar", "mulScalar", "divScalar", "powScalar", "clamp"};
  return op >= 0 && op < kScalarCount ? names[op] : "scalar";
}

template <typename F>
void mapN(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// scalar(op, x, s, t, out): out = x (op) s; clamp uses [s, t].
Napi::Value Scalar(const Napi::CallbackInfo& info) {
  const char* name = "scalar";
  if (info.Length() > 0 && info[0].IsNumber()) name = scalarName(info[0].As<Napi::Number>().Int64Value());
  return guard(info, name, [&] {
    const int64_t op = intArg(info, 0, name, "op");
    require(op < kScalarCount, std::string("scalar: unknown op code ") + std::to_string(op));
    F32 x = f32Arg(info, 1, name, "x");
    const double sd = numArg(info, 2, name, "s"), td = numArg(info, 3, name, "t");
    F32 y = f32Arg(info, 4, name, "out", x.size);
    const float s = static_cast<float>(sd), t = static_cast<float>(td);
    const float* a = x.data;
    float* o = y.data;
    const int64_t n = static_cast<int64_t>(x.size);
    switch (op) {
      case kSAdd: mapN(n, [&](int64_t i) { o[i] = a[i] + s; }); break;
      case kSSub: mapN(n, [&](int64_t i) { o[i] = a[i] - s; }); break;
      case kSRsub: mapN(n, [&](int64_t i) { o[i] = s - a[i]; }); break;
      case kSMul: mapN(n, [&](int64_t i) { o[i] = a[i] * s; }); break;
      case kSDiv: mapN(n, [&](int64_t i) { o[i] = a[i] / s; }); break;
      // In double, so the result is the correctly rounded float (as the reference computes it).
      case kSPow: mapN(n, [&](int64_t i) { o[i] = static_cast<float>(std::pow(static_cast<double>(a[i]), sd)); }); break;
      case kSClamp: mapN(n, [&](int64_t i) { o[i] = a[i] < s ? s : (a[i] > t ? t : a[i]); }); break;
    }
  });
}

// scalarBackward(op, x, s, t, gy, gx): gx = gy * d(x (op) s)/dx.
Napi::Value ScalarBackward(const Napi::CallbackInfo& info) {
  const char* name = "scalarBackward";
  if (info.Length() > 0 && info[0].IsNumber()) name = scalarName(info[0].As<Napi::Number>().Int64Value());
  return guard(info, name, [&] {
    const int64_t op = intArg(info, 0, name, "op");
    require(op < kScalarCount, std::string("scalarBackward: unknown op code ") + std::to_string(op));
    F32 x = f32Arg(info, 1, name, "x");
    const double sd = numArg(info, 2, name, "s"), td = numArg(info, 3, name, "t");
    F32 gy = f32Arg(info, 4, name, "gy", x.size);
    F32 gx = f32Arg(info, 5, name, "gx", x.size);
    const float s = static_cast<float>(sd), t = static_cast<float>(td);
    const float *a = x.data, *g = gy.data;
    float* o = gx.data;
    const int64_t n = static_cast<int64_t>(x.size);
    switch (op) {
      case kSAdd:
      case kSSub: mapN(n, [&](int64_t i) { o[i] = g[i]; }); break;
      case kSRsub: mapN(n, [&](int64_t i) { o[i] = -g[i]; }); break;
      case kSMul: mapN(n, [&](int64_t i) { o[i] = g[i] * s; }); break;
      case kSDiv: mapN(n, [&](int64_t i) { o[i] = g[i] / s; }); break;
      case kSPow:
        // p x^(p-1); p = 0 is a constant (avoids 0 * inf at x = 0).
        mapN(n, [&](int64_t i) {
          o[i] = sd == 0.0 ? 0.0f * g[i]
                           : static_cast<float>(g[i] * sd * std::pow(static_cast<double>(a[i]), sd - 1.0));
        });
        break;
      case kSClamp: mapN(n, [&](int64_t i) { o[i] = (a[i] < s || a[i] > t) ? 0.0f : g[i]; }); break;
    }
  });
}

// sqDiffSum(pred, target) -> sum (pred - target)^2, in double over fixed chunks.
Napi::Value SqDiffSum(const Napi::CallbackInfo& info) {
  double total = 0;
  Napi::Value r = guard(info, "mseLoss", [&] {
    F32 p = f32Arg(info, 0, "mseLoss", "pred");
    F32 t = f32Arg(info, 1, "mseLoss", "target", p.size);
    const int64_t n = static_cast<int64_t>(p.size);
    const int64_t chunks = (n + kChunkElems - 1) / kChunkElems;
    std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t i1 = std::min(n, (c + 1) * kChunkElems);
      // Four independent chains in a fixed order: deterministic, and not latency-bound.
      double s[4] = {0, 0, 0, 0};
      int64_t i = c * kChunkElems;
      for (; i + 4 <= i1; i += 4) {
        for (int k = 0; k < 4; ++k) {
          const double d = static_cast<double>(p.data[i + k]) - t.data[i + k];
          s[k] += d * d;
        }
      }
      for (; i < i1; ++i) {
        const double d = static_cast<double>(p.data[i]) - t.data[i];
        s[0] += d * d;
      }
      partial[c] = (s[0] + s[1]) + (s[2] + s[3]);
    }
    for (double s : partial) total += s;
  });
  if (info.Env().IsExceptionPending()) return r;
  return Napi::Number::New(info.Env(), total);
}

// sqDiff(pred, target, out): out = (pred - target)^2 (the difference in double, as the reference).
Napi::Value SqDiff(const Napi::CallbackInfo& info) {
  return guard(info, "mseLoss", [&] {
    F32 p = f32Arg(info, 0, "mseLoss", "pred");
    F32 t = f32Arg(info, 1, "mseLoss", "target", p.size);
    F32 o = f32Arg(info, 2, "mseLoss", "out", p.size);
    mapN(static_cast<int64_t>(p.size), [&](int64_t i) {
      const double d = static_cast<double>(p.data[i]) - t.data[i];
      o.data[i] = static_cast<float>(d * d);
    });
  });
}

// sqDiffBackward(pred, target, gy, scale, g): g = scale * gy[i or 0] * (pred - target).
Napi::Value SqDiffBackward(const Napi::CallbackInfo& info) {
  return guard(info, "mseLoss", [&] {
    F32 p = f32Arg(info, 0, "mseLoss", "pred");
    F32 t = f32Arg(info, 1, "mseLoss", "target", p.size);
    F32 gy = f32Arg(info, 2, "mseLoss", "gy");
    require(gy.size == 1 || gy.size == p.size, "mseLoss: argument 'gy' has " + std::to_string(gy.size) +
                                                   " elements, expected 1 or " + std::to_string(p.size));
    const double scale = numArg(info, 3, "mseLoss", "scale");
    F32 g = f32Arg(info, 4, "mseLoss", "g", p.size);
    const int64_t n = static_cast<int64_t>(p.size);
    if (gy.size == 1 && n != 1) {
      const double c = scale * gy.data[0];
      mapN(n, [&](int64_t i) { g.data[i] = static_cast<float>(c * (static_cast<double>(p.data[i]) - t.data[i])); });
    } else {
      mapN(n, [&](int64_t i) {
        g.data[i] = static_cast<float>(scale * gy.data[i] * (static_cast<double>(p.data[i]) - t.data[i]));
      });
    }
  });
}

}  // namespace

void InitBinary(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("where", Napi::Function::New(env, Where));
  exports.Set("broadcastTo", Napi::Function::New(env, BroadcastTo));
  exports.Set("reduceSum", Napi::Function::New(env, ReduceSum));
  exports.Set("scalar", Napi::Function::New(env, Scalar));
  exports.Set("scalarBackward", Napi::Function::New(env, ScalarBackward));
  exports.Set("sqDiffSum", Napi::Function::New(env, SqDiffSum));
  exports.Set("sqDiff", Napi::Function::New(env, SqDiff));
  exports.Set("sqDiffBackward", Napi::Function::New(env, SqDiffBackward));
}

}  // namespace diffuse
