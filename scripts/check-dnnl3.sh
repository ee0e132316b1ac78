#!/usr/bin/env bash
# Syntax-checks the addon against oneDNN 3.x headers (Debian 13's libdnnl-dev), without installing
# them system-wide: the .deb files are fetched into /tmp/trixie and unpacked there. This verifies the
# `#if DNNL_VERSION_MAJOR >= 3` branches of native/dnnl_compat.h compile.
#
# With --run it also RUNS them: a small C++ program (below) checks the compat helpers (conv
# forward / backward-data / backward-weights with weights as format `any`, the scaled matmul with
# alpha and with bias) against naive loops, built against oneDNN 3.x and started with Debian 13's
# own loader and libc/libstdc++/libgomp (3.x needs glibc 2.38; this machine has 2.36), so nothing
# is installed. The addon itself is not loaded under 3.x (node links this machine's libc).
#   usage: scripts/check-dnnl3.sh [--run]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
T="${DNNL3_DIR:-/tmp/trixie}"
APT=(-o "Dir::Etc::sourcelist=$T/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$T/lists" -o "Dir::Cache=$T/cache")

if [ ! -f "$T/root/usr/include/oneapi/dnnl/dnnl.hpp" ]; then
  mkdir -p "$T/lists/partial" "$T/cache/archives/partial" "$T/root"
  echo 'deb http://deb.debian.org/debian trixie main' > "$T/sources.list"
  apt-get "${APT[@]}" update >/dev/null
  ver="$(apt-cache "${APT[@]}" show libdnnl-dev | awk '/^Version:/ {print $2}' | sort -V | tail -1)"
  lib="$(apt-cache "${APT[@]}" show "libdnnl-dev=$ver" | awk -F'[ ,(]+' '/^Depends:/ {print $2}')"
  (cd "$T" && apt-get "${APT[@]}" download "libdnnl-dev=$ver" "$lib=$ver")
  for f in "$T"/*.deb; do dpkg -x "$f" "$T/root"; done
fi
grep -E '#define DNNL_VERSION_(MAJOR|MINOR)' "$T/root/usr/include/oneapi/dnnl/dnnl_version.h"

NODE_INC="$(dirname "$(find /usr/include/node /root/.cache/node-gyp -name node_api.h 2>/dev/null | head -1)")"
NAPI_INC="$(cd "$ROOT" && node -p "require('node-addon-api').include_dir")"
cd "$ROOT"
g++ -std=c++17 -fsyntax-only -fopenmp -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -Wall -Wno-unused-parameter \
  -I"$T/root/usr/include" -Inative -I"$NAPI_INC" -I"$NODE_INC" native/kernels/*.cc native/addon.cc
echo "oneDNN 3.x syntax check: ok"

[ "${1:-}" = "--run" ] || exit 0
if [ ! -x "$T/rt/usr/lib64/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$T/rtdeb" "$T/rt"
  (cd "$T/rtdeb" && apt-get "${APT[@]}" download libc6 libstdc++6 libgomp1 libgcc-s1)
  for f in "$T"/rtdeb/*.deb; do dpkg -x "$f" "$T/rt"; done
fi
LIBDIR="$T/root/usr/lib/x86_64-linux-gnu"
LIB="$(cd "$LIBDIR" && ls libdnnl.so.3.* | sort -V | tail -1)"
W="$(mktemp -d)"
cat > "$W/t3.cc" <<'CPP'
// Runtime check of native/dnnl_compat.h's helpers against whichever oneDNN it is built with:
// conv forward / backward-data / backward-weights (weights as format any, OHWI mapped as in
// conv2d.cc) and the scaled matmul (alpha, bias), each against naive loops.
#include "dnnl_compat.h"
#include <cmath>
#include <cstdio>
#include <vector>
using namespace dnnl;
using namespace diffuse;
using tag = memory::format_tag;
static float val(size_t i) { return static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 1.0f; }
static int fails = 0;
static void check(const char* what, const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) { num += (got[i] - want[i]) * (got[i] - want[i]); den += want[i] * want[i]; }
  const double e = num / (den > 0 ? den : 1);
  std::printf("%-28s nmse %.2e %s\n", what, e, e < 1e-10 ? "ok" : "FAIL");
  if (!(e < 1e-10)) ++fails;
}
// OHWI index -> offset in a `want` layout buffer, by reordering the values 1..n (as conv2d.cc does).
static std::vector<int64_t> mapOf(const memory::desc& plainD, const memory::desc& want) {
  const size_t n = plainD.get_size() / 4, pn = want.get_size() / 4;
  std::vector<float> ids(n);
  for (size_t j = 0; j < n; ++j) ids[j] = float(j + 1);
  memory plain(plainD, cpuEngine(), ids.data()), dst(want, cpuEngine());
  float* d = static_cast<float*>(dst.get_data_handle());
  std::fill(d, d + pn, 0.0f);
  reorder(plain, dst).execute(cpuStream(), plain, dst);
  cpuStream().wait();
  std::vector<int64_t> m(n, -1);
  for (size_t p = 0; p < pn; ++p) if (d[p] > 0) m[size_t(d[p]) - 1] = int64_t(p);
  return m;
}
int main() {
  std::printf("oneDNN %s (DNNL_VERSION_MAJOR %d)\n", dnnlVersionString().c_str(), DNNL_VERSION_MAJOR);
  const int64_t N = 2, H = 6, W = 5, C = 32, O = 64, K = 3, S = 2, PT = 0, PB = 1, PL = 0, PR = 1;
  const int64_t OH = (H + PT + PB - K) / S + 1, OW = (W + PL + PR - K) / S + 1;
  auto f = memory::data_type::f32;
  memory::desc xd({N, C, H, W}, f, tag::nhwc), wd({O, C, K, K}, f, tag::ohwi), wany({O, C, K, K}, f, tag::any),
      bd({O}, f, tag::x), yd({N, O, OH, OW}, f, tag::nhwc);
  memory::dims st{S, S}, pl{PT, PL}, pr{PB, PR};
  std::vector<float> x(N * H * W * C), w(O * K * K * C), b(O), gy(N * OH * OW * O);
  for (size_t i = 0; i < x.size(); ++i) x[i] = val(i);
  for (size_t i = 0; i < w.size(); ++i) w[i] = val(i + 7);
  for (size_t i = 0; i < b.size(); ++i) b[i] = val(i + 3);
  for (size_t i = 0; i < gy.size(); ++i) gy[i] = val(i + 11);
  // Naive references (cross-correlation, zero padding).
  std::vector<double> y0(gy.size()), gx0(x.size()), gw0(w.size()), gb0(O);
  for (int64_t n = 0; n < N; ++n) for (int64_t oh = 0; oh < OH; ++oh) for (int64_t ow = 0; ow < OW; ++ow) for (int64_t o = 0; o < O; ++o) {
    const size_t yi = ((n * OH + oh) * OW + ow) * O + o;
    double s = b[o];
    gb0[o] += gy[yi];
    for (int64_t kh = 0; kh < K; ++kh) for (int64_t kw = 0; kw < K; ++kw) {
      const int64_t ih = oh * S - PT + kh, iw = ow * S - PL + kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (int64_t c = 0; c < C; ++c) {
        const size_t xi = ((n * H + ih) * W + iw) * C + c, wi = ((o * K + kh) * K + kw) * C + c;
        s += double(x[xi]) * w[wi];
        gx0[xi] += double(gy[yi]) * w[wi];
        gw0[wi] += double(gy[yi]) * x[xi];
      }
    }
    y0[yi] = s;
  }
  auto& e = cpuEngine();
  auto fpd = makeConvFwdPd(xd, wany, &bd, yd, st, pl, pr);
  auto dpd = makeConvBwdDataPd(xd, wany, yd, st, pl, pr, makeConvFwdPd(xd, wany, nullptr, yd, st, pl, pr));
  auto wpd = makeConvBwdWeightsPd(xd, wany, &bd, yd, st, pl, pr, fpd);
  std::printf("impls: %s / %s / %s\n", fpd.impl_info_str(), dpd.impl_info_str(), wpd.impl_info_str());
  auto packed = [&](const memory::desc& md) {
    memory m(md, e);
    float* d = static_cast<float*>(m.get_data_handle());
    std::fill(d, d + md.get_size() / 4, 0.0f);
    auto map = mapOf(wd, md);
    for (size_t j = 0; j < w.size(); ++j) d[map[j]] = w[j];
    return m;
  };
  std::vector<float> y(gy.size()), gx(x.size()), gw(w.size()), gb(O);
  convolution_forward(fpd).execute(cpuStream(), {{DNNL_ARG_SRC, memory(xd, e, x.data())}, {DNNL_ARG_WEIGHTS, packed(fpd.weights_desc())},
                                                 {DNNL_ARG_BIAS, memory(bd, e, b.data())}, {DNNL_ARG_DST, memory(yd, e, y.data())}});
  convolution_backward_data(dpd).execute(cpuStream(), {{DNNL_ARG_DIFF_DST, memory(yd, e, gy.data())}, {DNNL_ARG_WEIGHTS, packed(dpd.weights_desc())},
                                                       {DNNL_ARG_DIFF_SRC, memory(xd, e, gx.data())}});
  memory gwp(wpd.diff_weights_desc(), e);
  convolution_backward_weights(wpd).execute(cpuStream(), {{DNNL_ARG_SRC, memory(xd, e, x.data())}, {DNNL_ARG_DIFF_DST, memory(yd, e, gy.data())},
                                                          {DNNL_ARG_DIFF_WEIGHTS, gwp}, {DNNL_ARG_DIFF_BIAS, memory(bd, e, gb.data())}});
  cpuStream().wait();
  auto wmap = mapOf(wd, wpd.diff_weights_desc());
  for (size_t j = 0; j < w.size(); ++j) gw[j] = static_cast<float*>(gwp.get_data_handle())[wmap[j]];
  check("conv forward (+bias)", y, y0);
  check("conv backward-data", gx, gx0);
  check("conv backward-weights", gw, gw0);
  check("conv backward-weights bias", gb, gb0);
  // Scaled batched matmul with transposed weights, and a plain one with bias.
  const int64_t B = 3, M = 5, KK = 7, NN = 4;
  std::vector<float> a(B * M * KK), bt(B * NN * KK), bias(NN);
  for (size_t i = 0; i < a.size(); ++i) a[i] = val(i + 1);
  for (size_t i = 0; i < bt.size(); ++i) bt[i] = val(i + 5);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = val(i + 9);
  for (float alpha : {0.125f, 1.0f}) {
    const bool withBias = alpha == 1.0f;
    std::vector<double> c0(B * M * NN);
    for (int64_t i = 0; i < B; ++i) for (int64_t m = 0; m < M; ++m) for (int64_t n = 0; n < NN; ++n) {
      double s = 0;
      for (int64_t k = 0; k < KK; ++k) s += double(a[(i * M + m) * KK + k]) * bt[(i * NN + n) * KK + k];
      c0[(i * M + m) * NN + n] = alpha * s + (withBias ? bias[n] : 0.0);
    }
    memory::desc ad({B, M, KK}, f, memory::dims{M * KK, KK, 1}), bdsc({B, KK, NN}, f, memory::dims{NN * KK, 1, KK}),
        biasd({1, 1, NN}, f, tag::abc), cd({B, M, NN}, f, tag::abc);
    ScaledMatmul mm = makeScaledMatmul(ad, bdsc, withBias ? &biasd : nullptr, cd, alpha);
    std::vector<float> c(c0.size());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(ad, e, a.data())}, {DNNL_ARG_WEIGHTS, memory(bdsc, e, bt.data())},
                                         {DNNL_ARG_DST, memory(cd, e, c.data())}};
    if (withBias) args[DNNL_ARG_BIAS] = memory(biasd, e, bias.data());
    addScaleArgs(mm, args);
    mm.prim.execute(cpuStream(), args);
    cpuStream().wait();
    check(withBias ? "matmul transB + bias" : "matmul transB, alpha 0.125", c, c0);
  }
  std::printf("%s\n", fails ? "FAILED" : "all ok");
  return fails ? 1 : 0;
}
CPP
g++ -std=c++17 -O1 -I"$T/root/usr/include" -I"$ROOT/native" "$W/t3.cc" -L"$LIBDIR" -l:"$LIB" -Wl,--allow-shlib-undefined -o "$W/t3"
# The first line below comes from the program: it names the oneDNN version that actually ran.
"$T/rt/usr/lib64/ld-linux-x86-64.so.2" --library-path "$T/rt/usr/lib/x86_64-linux-gnu:$LIBDIR" "$W/t3"
rm -rf "$W"
