// Every difference between oneDNN 2.x (Debian 12) and 3.x (Debian 13) lives in this header,
// and nowhere else. Kernels call the helpers below instead of version-specific API.
#pragma once
#include <dnnl.hpp>
#include <string>
#include <unordered_map>

#ifndef DNNL_VERSION_MAJOR
#include <dnnl_version.h>
#endif

namespace diffuse {

// One CPU engine and one in-order stream for the whole process.
inline dnnl::engine& cpuEngine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
inline dnnl::stream& cpuStream() {
  static dnnl::stream s(cpuEngine());
  return s;
}

inline std::string dnnlVersionString() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

// The instruction set oneDNN dispatches to, as oneDNN's verbose mode names it.
inline std::string effectiveIsaName() {
  // An if-chain, not a switch: 3.x aliases some enumerators, which would make duplicate cases.
  using isa = dnnl::cpu_isa;
  const isa got = dnnl::get_effective_cpu_isa();
  if (got == isa::avx512_core_amx) return "avx512_core_amx";
  if (got == isa::avx512_core_bf16) return "avx512_core_bf16";
  if (got == isa::avx512_core_vnni) return "avx512_core_vnni";
  if (got == isa::avx512_core) return "avx512_core";
  if (got == isa::avx2) return "avx2";
  if (got == isa::avx) return "avx";
  if (got == isa::sse41) return "sse41";
  return "other (dnnl_cpu_isa " + std::to_string(static_cast<int>(got)) + ")";
}

// ---- Convolution and matmul primitive descriptors (conv2d.cc, matmul.cc, bench.cc) ----
// 2.x builds an op descriptor (`::desc`) and then a primitive_desc from it; 3.x dropped the op
// descriptors and takes the engine first. These helpers hide that; `bias` may be null.

inline dnnl::convolution_forward::primitive_desc makeConvFwdPd(
    const dnnl::memory::desc& src, const dnnl::memory::desc& wei, const dnnl::memory::desc* bias,
    const dnnl::memory::desc& dst, const dnnl::memory::dims& strides, const dnnl::memory::dims& padL,
    const dnnl::memory::dims& padR) {
  using cf = dnnl::convolution_forward;
  const auto prop = dnnl::prop_kind::forward_training;
  const auto algo = dnnl::algorithm::convolution_direct;
#if DNNL_VERSION_MAJOR >= 3
  if (bias) return cf::primitive_desc(cpuEngine(), prop, algo, src, wei, *bias, dst, strides, padL, padR);
  return cf::primitive_desc(cpuEngine(), prop, algo, src, wei, dst, strides, padL, padR);
#else
  if (bias) return cf::primitive_desc(cf::desc(prop, algo, src, wei, *bias, dst, strides, padL, padR), cpuEngine());
  return cf::primitive_desc(cf::desc(prop, algo, src, wei, dst, strides, padL, padR), cpuEngine());
#endif
}

inline dnnl::convolution_backward_data::primitive_desc makeConvBwdDataPd(
    const dnnl::memory::desc& diffSrc, const dnnl::memory::desc& wei, const dnnl::memory::desc& diffDst,
    const dnnl::memory::dims& strides, const dnnl::memory::dims& padL, const dnnl::memory::dims& padR,
    const dnnl::convolution_forward::primitive_desc& hint) {
  using cb = dnnl::convolution_backward_data;
  const auto algo = dnnl::algorithm::convolution_direct;
#if DNNL_VERSION_MAJOR >= 3
  return cb::primitive_desc(cpuEngine(), algo, diffSrc, wei, diffDst, strides, padL, padR, hint);
#else
  return cb::primitive_desc(cb::desc(algo, diffSrc, wei, diffDst, strides, padL, padR), cpuEngine(), hint);
#endif
}

inline dnnl::convolution_backward_weights::primitive_desc makeConvBwdWeightsPd(
    const dnnl::memory::desc& src, const dnnl::memory::desc& diffWei, const dnnl::memory::desc* diffBias,
    const dnnl::memory::desc& diffDst, const dnnl::memory::dims& strides, const dnnl::memory::dims& padL,
    const dnnl::memory::dims& padR, const dnnl::convolution_forward::primitive_desc& hint) {
  using cw = dnnl::convolution_backward_weights;
  const auto algo = dnnl::algorithm::convolution_direct;
#if DNNL_VERSION_MAJOR >= 3
  if (diffBias) return cw::primitive_desc(cpuEngine(), algo, src, diffWei, *diffBias, diffDst, strides, padL, padR, hint);
  return cw::primitive_desc(cpuEngine(), algo, src, diffWei, diffDst, strides, padL, padR, hint);
#else
  if (diffBias) {
    return cw::primitive_desc(cw::desc(algo, src, diffWei, *diffBias, diffDst, strides, padL, padR), cpuEngine(), hint);
  }
  return cw::primitive_desc(cw::desc(algo, src, diffWei, diffDst, strides, padL, padR), cpuEngine(), hint);
#endif
}

// A matmul whose product is scaled by a constant alpha: dst = alpha * (src x weights) [+ bias].
// 2.x bakes alpha into the primitive as an output scale; 3.x replaced output scales with
// per-argument runtime scales (here on the source), passed as a one-element memory at execution.
// Bias is only allowed with alpha == 1 (2.x scales the bias too, 3.x does not).
struct ScaledMatmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::memory scale;  // 3.x only: holds alpha (empty in 2.x or when alpha == 1)
  float alpha = 1.0f;
};

inline ScaledMatmul makeScaledMatmul(const dnnl::memory::desc& src, const dnnl::memory::desc& wei,
                                     const dnnl::memory::desc* bias, const dnnl::memory::desc& dst, float alpha) {
  ScaledMatmul m;
  m.alpha = alpha;
  dnnl::primitive_attr attr;
  const bool scaled = alpha != 1.0f;
#if DNNL_VERSION_MAJOR >= 3
  if (scaled) attr.set_scales_mask(DNNL_ARG_SRC, 0);
  m.pd = bias ? dnnl::matmul::primitive_desc(cpuEngine(), src, wei, *bias, dst, attr)
              : dnnl::matmul::primitive_desc(cpuEngine(), src, wei, dst, attr);
  if (scaled) {
    m.scale = dnnl::memory({{1}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::x}, cpuEngine());
    *static_cast<float*>(m.scale.get_data_handle()) = alpha;
  }
#else
  if (scaled) attr.set_output_scales(0, {alpha});
  m.pd = bias ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, *bias, dst), attr, cpuEngine())
              : dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), attr, cpuEngine());
#endif
  m.prim = dnnl::matmul(m.pd);
  return m;
}

// Adds the execution arguments the scale needs (none in 2.x).
inline void addScaleArgs(const ScaledMatmul& m, std::unordered_map<int, dnnl::memory>& args) {
#if DNNL_VERSION_MAJOR >= 3
  if (m.alpha != 1.0f) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC] = m.scale;
#else
  (void)m;
  (void)args;
#endif
}

}  // namespace diffuse
