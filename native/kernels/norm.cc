// (placeholder: filled in by the norm kernel family)
#include "common.h"

namespace diffuse {

void InitNorm(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
