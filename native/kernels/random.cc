// (placeholder: filled in by the random kernel family)
#include "common.h"

namespace diffuse {

void InitRandom(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
