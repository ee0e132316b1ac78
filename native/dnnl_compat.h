// Every difference between oneDNN 2.x (Debian 12) and 3.x (Debian 13) lives in this header,
// and nowhere else. Kernels call the helpers below instead of version-specific API.
#pragma once
#include <dnnl.hpp>
#include <string>

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

}  // namespace diffuse
