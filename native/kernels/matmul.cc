// (placeholder: filled in by the matmul kernel family)
#include "common.h"

namespace diffuse {

void InitMatmul(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
