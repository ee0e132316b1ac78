// (placeholder: filled in by the optim kernel family)
#include "common.h"

namespace diffuse {

void InitOptim(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
