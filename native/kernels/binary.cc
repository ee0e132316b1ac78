// (placeholder: filled in by the binary kernel family)
#include "common.h"

namespace diffuse {

void InitBinary(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
