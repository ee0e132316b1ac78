// Shared helpers for every kernel entry point: argument extraction with size checks,
// and the guard that turns every C++ exception into a JavaScript error (never abort).
#pragma once
#include <napi.h>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace diffuse {

// A checked view of a Float32Array argument.
struct F32 {
  float* data;
  size_t size;
};

// Thrown by argument checks; the guard turns it into a TypeError / RangeError in JS.
struct ArgError : std::runtime_error {
  bool isType;
  ArgError(const std::string& msg, bool type) : std::runtime_error(msg), isType(type) {}
};

inline std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_uint8_array: return "Uint8Array";
      default: return "another TypedArray";
    }
  }
  if (v.IsArray()) return "Array";
  return "object";
}

// Float32Array argument `i` named `name` of op `op`; if `expected` is not SIZE_MAX, its length must match.
inline F32 f32Arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                  size_t expected = SIZE_MAX) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be a Float32Array, found " +
                       (i < info.Length() ? describe(info[i]) : std::string("nothing")),
                   true);
  }
  auto a = info[i].As<Napi::Float32Array>();
  F32 r{a.Data(), a.ElementLength()};
  if (expected != SIZE_MAX && r.size != expected) {
    throw ArgError(std::string(op) + ": argument '" + name + "' has " + std::to_string(r.size) +
                       " elements, expected " + std::to_string(expected),
                   false);
  }
  return r;
}

// Integer argument i (a JS number holding an integer >= lo).
inline int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                      int64_t lo = 0) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be a number, found " +
                       (i < info.Length() ? describe(info[i]) : std::string("nothing")),
                   true);
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(lo)) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be an integer >= " +
                       std::to_string(lo) + ", found " + std::to_string(d),
                   false);
  }
  return static_cast<int64_t>(d);
}

inline double numArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be a number, found " +
                       (i < info.Length() ? describe(info[i]) : std::string("nothing")),
                   true);
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

inline bool boolArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean()) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be a boolean, found " +
                       (i < info.Length() ? describe(info[i]) : std::string("nothing")),
                   true);
  }
  return info[i].As<Napi::Boolean>().Value();
}

// Int32Array argument (shapes, indices).
inline Napi::Int32Array i32Arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw ArgError(std::string(op) + ": argument '" + name + "' must be an Int32Array, found " +
                       (i < info.Length() ? describe(info[i]) : std::string("nothing")),
                   true);
  }
  return info[i].As<Napi::Int32Array>();
}

inline void require(bool cond, const std::string& msg) {
  if (!cond) throw ArgError(msg, false);
}

// Runs a kernel body; every exception becomes a JS exception (the process never aborts).
// The message is prefixed so TypeScript can tell native failures apart.
template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, const char* op, F&& body) {
  Napi::Env env = info.Env();
  try {
    body();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const ArgError& e) {
    if (e.isType) Napi::TypeError::New(env, e.what()).ThrowAsJavaScriptException();
    else Napi::RangeError::New(env, e.what()).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, std::string(op) + ": native kernel failed: " + e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, std::string(op) + ": native kernel failed with an unknown error").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// Each kernel family registers its functions here (defined in native/kernels/<family>.cc).
void InitCore(Napi::Env env, Napi::Object exports);
void InitUnary(Napi::Env env, Napi::Object exports);
void InitConv2d(Napi::Env env, Napi::Object exports);
void InitMatmul(Napi::Env env, Napi::Object exports);
void InitBinary(Napi::Env env, Napi::Object exports);
void InitLayout(Napi::Env env, Napi::Object exports);
void InitNorm(Napi::Env env, Napi::Object exports);
void InitAttention(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);
void InitRandom(Napi::Env env, Napi::Object exports);
void InitBench(Napi::Env env, Napi::Object exports);

}  // namespace diffuse
