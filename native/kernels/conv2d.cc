// (placeholder: filled in by the conv2d kernel family)
#include "common.h"

namespace diffuse {

void InitConv2d(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
