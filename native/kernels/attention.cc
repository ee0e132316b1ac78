// Fused multi-head attention (Vaswani et al. 2017, eq. 1) on the layout the projections produce:
// q (B, Lq, H*Dh), k and v (B, Lk, H*Dh), head h owning channels [h*Dh, (h+1)*Dh). Per (batch,
// head) pair, in one pass and without permuting the heads out:
//   S = scale Q K^T (Lq, Lk),  P = softmax_rows(S) (saved),  O = P V.
// Backward, from the saved P:
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = scale dS K,  dK = scale dS^T Q.
// The U-Net's attention runs at 7x7 (L = 49) with 8 heads of 8 channels: a thousand tiny products
// per batch, where one loop per pair beats batched GEMM calls plus four head permutes.
// The TypeScript twin is src/backend/reference/attention.ts.
#include <cmath>
#include <limits>
#include <vector>
#include "common.h"
#include "vec_math.h"

namespace diffuse {

// Below this many multiply-adds a parallel region costs more than it saves.
constexpr int64_t kAttentionParallelMin = 1 << 16;

struct AttnDims {
  int64_t b, lq, lk, heads, dh, width;  // width = heads * dh, the row stride of q, k, v, o
};

static AttnDims attnDims(const Napi::CallbackInfo& info, size_t first, const char* op) {
  AttnDims d{};
  d.b = intArg(info, first, op, "b");
  d.lq = intArg(info, first + 1, op, "lq");
  d.lk = intArg(info, first + 2, op, "lk", 1);
  d.heads = intArg(info, first + 3, op, "heads", 1);
  d.dh = intArg(info, first + 4, op, "dh", 1);
  constexpr int64_t kMax = int64_t{1} << 31;
  require(d.b < kMax && d.lq < kMax && d.lk < kMax && d.heads < kMax && d.dh < kMax, std::string(op) + ": sizes overflow");
  d.width = d.heads * d.dh;
  require(d.width < kMax && d.b * d.heads < kMax && d.lq * d.lk < kMax, std::string(op) + ": sizes overflow");
  return d;
}

// One (batch, head) pair forward. DH > 0 fixes the head size at compile time (the loops over
// channels unroll into one vector register for DH = 8); DH = 0 reads it from dh.
// Kt is scratch of Dh * Lk floats: the head's keys transposed, so each score row is a sum of Dh
// vector updates over the keys instead of Lk short dot products.
template <int DH>
static void attentionPairForward(const float* Q, const float* K, const float* V, float* O, float* P, float* Kt,
                                 int64_t Lq, int64_t Lk, int64_t W, int64_t dh, float scale) {
  const int64_t Dh = DH > 0 ? DH : dh;
  for (int64_t j = 0; j < Lk; ++j)
    for (int64_t c = 0; c < Dh; ++c) Kt[c * Lk + j] = K[j * W + c] * scale;
  for (int64_t i = 0; i < Lq; ++i) {
    const float* Qi = Q + i * W;
    float* Pi = P + i * Lk;
    for (int64_t j = 0; j < Lk; ++j) Pi[j] = 0;
    for (int64_t c = 0; c < Dh; ++c) {
      const float qc = Qi[c];
      const float* Ktc = Kt + c * Lk;
      for (int64_t j = 0; j < Lk; ++j) Pi[j] += qc * Ktc[j];
    }
    // Softmax shifted by the row max; a NaN score makes the max, and so the whole row, NaN.
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < Lk; ++j) mx = Pi[j] > mx || Pi[j] != Pi[j] ? Pi[j] : mx;
    for (int64_t j = 0; j < Lk; ++j) Pi[j] = expVec(Pi[j] - mx);
    float sum = 0;
    for (int64_t j = 0; j < Lk; ++j) sum += Pi[j];
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < Lk; ++j) Pi[j] *= inv;
    float acc[DH > 0 ? DH : 1];
    float* Oi = O + i * W;
    float* out = DH > 0 ? acc : Oi;
    for (int64_t c = 0; c < Dh; ++c) out[c] = 0;
    for (int64_t j = 0; j < Lk; ++j) {
      const float pij = Pi[j];
      const float* Vj = V + j * W;
      for (int64_t c = 0; c < Dh; ++c) out[c] += pij * Vj[c];
    }
    if (DH > 0)
      for (int64_t c = 0; c < Dh; ++c) Oi[c] = acc[c];
  }
}

// One (batch, head) pair backward; dS is scratch of Lk floats. The pair owns its head's columns
// of gk and gv, so it clears them and accumulates over the queries.
template <int DH>
static void attentionPairBackward(const float* Q, const float* K, const float* V, const float* P, const float* GO,
                                  float* GQ, float* GK, float* GV, float* dS, float* Vt, int64_t Lq, int64_t Lk,
                                  int64_t W, int64_t dh, float scale) {
  const int64_t Dh = DH > 0 ? DH : dh;
  for (int64_t j = 0; j < Lk; ++j)
    for (int64_t c = 0; c < Dh; ++c) {
      GK[j * W + c] = GV[j * W + c] = 0;
      Vt[c * Lk + j] = V[j * W + c];
    }
  for (int64_t i = 0; i < Lq; ++i) {
    const float* Pi = P + i * Lk;
    const float* GOi = GO + i * W;
    const float* Qi = Q + i * W;
    // dP_ij = dO_i . V_j (over the transposed values), then dS_ij = scale P_ij (dP_ij - sum_j P_ij dP_ij).
    for (int64_t j = 0; j < Lk; ++j) dS[j] = 0;
    for (int64_t c = 0; c < Dh; ++c) {
      const float g = GOi[c];
      const float* Vtc = Vt + c * Lk;
      for (int64_t j = 0; j < Lk; ++j) dS[j] += g * Vtc[j];
    }
    float rowdot = 0;
    for (int64_t j = 0; j < Lk; ++j) rowdot += Pi[j] * dS[j];
    for (int64_t j = 0; j < Lk; ++j) dS[j] = scale * Pi[j] * (dS[j] - rowdot);
    float* GQi = GQ + i * W;
    for (int64_t c = 0; c < Dh; ++c) GQi[c] = 0;
    for (int64_t j = 0; j < Lk; ++j) {
      const float ds = dS[j], pij = Pi[j];
      const float* Kj = K + j * W;
      float* GKj = GK + j * W;
      float* GVj = GV + j * W;
      for (int64_t c = 0; c < Dh; ++c) {
        GQi[c] += ds * Kj[c];
        GKj[c] += ds * Qi[c];
        GVj[c] += pij * GOi[c];
      }
    }
  }
}

// attentionForward(q, k, v, o, p, b, lq, lk, heads, dh, scale)
static Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  const char* op = "attentionForward";
  return guard(info, op, [&] {
    const AttnDims d = attnDims(info, 5, op);
    const float scale = static_cast<float>(numArg(info, 10, op, "scale"));
    F32 q = f32Arg(info, 0, op, "q", static_cast<size_t>(d.b * d.lq * d.width));
    F32 k = f32Arg(info, 1, op, "k", static_cast<size_t>(d.b * d.lk * d.width));
    F32 v = f32Arg(info, 2, op, "v", static_cast<size_t>(d.b * d.lk * d.width));
    F32 o = f32Arg(info, 3, op, "o", static_cast<size_t>(d.b * d.lq * d.width));
    F32 p = f32Arg(info, 4, op, "p", static_cast<size_t>(d.b * d.heads * d.lq * d.lk));
    const int64_t pairs = d.b * d.heads, W = d.width, Dh = d.dh, Lq = d.lq, Lk = d.lk;
#pragma omp parallel if (pairs * Lq * Lk * Dh > kAttentionParallelMin)
    {
      std::vector<float> Kt(static_cast<size_t>(Dh * Lk));
#pragma omp for schedule(static)
      for (int64_t pr = 0; pr < pairs; ++pr) {
        const int64_t bi = pr / d.heads, h = pr % d.heads;
        const int64_t qOff = bi * Lq * W + h * Dh, kOff = bi * Lk * W + h * Dh;
        float* P = p.data + pr * Lq * Lk;
        if (Dh == 8) attentionPairForward<8>(q.data + qOff, k.data + kOff, v.data + kOff, o.data + qOff, P, Kt.data(), Lq, Lk, W, Dh, scale);
        else attentionPairForward<0>(q.data + qOff, k.data + kOff, v.data + kOff, o.data + qOff, P, Kt.data(), Lq, Lk, W, Dh, scale);
      }
    }
  });
}

// attentionBackward(q, k, v, p, go, gq, gk, gv, b, lq, lk, heads, dh, scale)
static Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const char* op = "attentionBackward";
  return guard(info, op, [&] {
    const AttnDims d = attnDims(info, 8, op);
    const float scale = static_cast<float>(numArg(info, 13, op, "scale"));
    const size_t qSize = static_cast<size_t>(d.b * d.lq * d.width), kSize = static_cast<size_t>(d.b * d.lk * d.width);
    F32 q = f32Arg(info, 0, op, "q", qSize);
    F32 k = f32Arg(info, 1, op, "k", kSize);
    F32 v = f32Arg(info, 2, op, "v", kSize);
    F32 p = f32Arg(info, 3, op, "p", static_cast<size_t>(d.b * d.heads * d.lq * d.lk));
    F32 go = f32Arg(info, 4, op, "go", qSize);
    F32 gq = f32Arg(info, 5, op, "gq", qSize);
    F32 gk = f32Arg(info, 6, op, "gk", kSize);
    F32 gv = f32Arg(info, 7, op, "gv", kSize);
    const int64_t pairs = d.b * d.heads, W = d.width, Dh = d.dh, Lq = d.lq, Lk = d.lk;
#pragma omp parallel if (pairs * Lq * Lk * Dh > kAttentionParallelMin)
    {
      std::vector<float> dS(static_cast<size_t>(Lk)), Vt(static_cast<size_t>(Dh * Lk));
#pragma omp for schedule(static)
      for (int64_t pr = 0; pr < pairs; ++pr) {
        const int64_t bi = pr / d.heads, h = pr % d.heads;
        const int64_t qOff = bi * Lq * W + h * Dh, kOff = bi * Lk * W + h * Dh;
        const float* P = p.data + pr * Lq * Lk;
        if (Dh == 8)
          attentionPairBackward<8>(q.data + qOff, k.data + kOff, v.data + kOff, P, go.data + qOff, gq.data + qOff, gk.data + kOff,
                                   gv.data + kOff, dS.data(), Vt.data(), Lq, Lk, W, Dh, scale);
        else
          attentionPairBackward<0>(q.data + qOff, k.data + kOff, v.data + kOff, P, go.data + qOff, gq.data + qOff, gk.data + kOff,
                                   gv.data + kOff, dS.data(), Vt.data(), Lq, Lk, W, Dh, scale);
      }
    }
  });
}

void InitAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionForward", Napi::Function::New(env, AttentionForward));
  exports.Set("attentionBackward", Napi::Function::New(env, AttentionBackward));
}

}  // namespace diffuse
