// (placeholder: filled in by the layout kernel family)
#include "common.h"

namespace diffuse {

void InitLayout(Napi::Env env, Napi::Object exports) {}

}  // namespace diffuse
