// (placeholder: filled in by the bench kernel family)
#include "common.h"

namespace diffuse {

void InitBench(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
