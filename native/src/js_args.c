#include "js_args.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_BYTES 512

static const char *describe_value(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return "unknown";
  switch (type) {
  case napi_undefined: return "undefined";
  case napi_null: return "null";
  case napi_boolean: return "boolean";
  case napi_number: return "number";
  case napi_string: return "string";
  case napi_symbol: return "symbol";
  case napi_object: return "object";
  case napi_function: return "function";
  case napi_external: return "external";
  case napi_bigint: return "bigint";
  }
  return "unknown";
}

static const char *typed_array_name(napi_typedarray_type type) {
  switch (type) {
  case napi_int8_array: return "Int8Array";
  case napi_uint8_array: return "Uint8Array";
  case napi_uint8_clamped_array: return "Uint8ClampedArray";
  case napi_int16_array: return "Int16Array";
  case napi_uint16_array: return "Uint16Array";
  case napi_int32_array: return "Int32Array";
  case napi_uint32_array: return "Uint32Array";
  case napi_float32_array: return "Float32Array";
  case napi_float64_array: return "Float64Array";
  case napi_bigint64_array: return "BigInt64Array";
  case napi_biguint64_array: return "BigUint64Array";
#ifdef NODE_API_HAS_FLOAT16_ARRAY
  /* Node 24's headers add Float16Array; older headers do not define it. */
  case napi_float16_array: return "Float16Array";
#endif
  }
  return "TypedArray";
}

static const char *article(napi_typedarray_type type) {
  return typed_array_name(type)[0] == 'I' ? "an" : "a";
}

static size_t typed_element_bytes(napi_typedarray_type type) {
  switch (type) {
  case napi_int16_array:
#ifdef NODE_API_HAS_FLOAT16_ARRAY
  case napi_float16_array:
#endif
  case napi_uint16_array: return 2;
  case napi_int32_array:
  case napi_uint32_array:
  case napi_float32_array: return 4;
  case napi_float64_array:
  case napi_bigint64_array:
  case napi_biguint64_array: return 8;
  default: return 1;
  }
}

static napi_value make_string(napi_env env, const char *text) {
  napi_value value = NULL;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

static void set_property(napi_env env, napi_value object, const char *key, napi_value value) {
  if (value != NULL) napi_set_named_property(env, object, key, value);
}

typedef napi_status (*error_factory)(napi_env, napi_value, napi_value, napi_value *);

static void throw_with(napi_env env, error_factory create, const char *code,
                       const char *message) {
  napi_value error = NULL;
  napi_value code_value = code != NULL ? make_string(env, code) : NULL;
  if (create(env, code_value, make_string(env, message), &error) != napi_ok) {
    napi_throw_error(env, code, message);
    return;
  }
  napi_throw(env, error);
}

__attribute__((format(printf, 4, 0))) static void throw_formatted(napi_env env, error_factory create, const char *code,
                            const char *fmt, va_list args) {
  char message[MESSAGE_BYTES];
  vsnprintf(message, sizeof message, fmt, args);
  throw_with(env, create, code, message);
}

void js_throw_type_error(napi_env env, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  throw_formatted(env, napi_create_type_error, "ERR_INVALID_ARG_TYPE", fmt, args);
  va_end(args);
}

void js_throw_range_error(napi_env env, const char *code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  throw_formatted(env, napi_create_range_error, code, fmt, args);
  va_end(args);
}

void js_throw_coded(napi_env env, const char *code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  throw_formatted(env, napi_create_error, code, fmt, args);
  va_end(args);
}

void js_throw_errno(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  char prefix[MESSAGE_BYTES];
  char message[MESSAGE_BYTES + 128];
  va_list args;
  va_start(args, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, args);
  va_end(args);
  const char *code = strerrorname_np(err);
  if (code == NULL) code = "EUNKNOWN";
  snprintf(message, sizeof message, "%s: %s (%s)", prefix, strerror(err), code);

  napi_value error = NULL;
  if (napi_create_error(env, make_string(env, code), make_string(env, message), &error) !=
      napi_ok) {
    napi_throw_error(env, code, message);
    return;
  }
  // Node's own system errors carry errno as a negative number.
  set_property(env, error, "errno", js_int(env, -err));
  set_property(env, error, "syscall", make_string(env, syscall));
  napi_throw(env, error);
}

napi_value js_int(napi_env env, int64_t value) {
  napi_value result = NULL;
  napi_create_int64(env, value, &result);
  return result;
}

napi_value js_undefined(napi_env env) {
  napi_value result = NULL;
  napi_get_undefined(env, &result);
  return result;
}

bool js_get_args(napi_env env, napi_callback_info info, const char *fn, size_t min,
                 size_t max, napi_value *argv) {
  size_t argc = max;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    js_throw_type_error(env, "%s: cannot read arguments", fn);
    return false;
  }
  if (argc < min) {
    js_throw_type_error(env, "%s: expected at least %zu arguments, got %zu", fn, min, argc);
    return false;
  }
  // napi_get_cb_info fills missing arguments with undefined.
  return true;
}

bool js_get_int(napi_env env, napi_value value, const char *fn, const char *name,
                int64_t min, int64_t max, int64_t *out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    js_throw_type_error(env, "%s: %s must be an integer, got %s", fn, name,
                        describe_value(env, value));
    return false;
  }
  if (!isfinite(number) || number != trunc(number)) {
    js_throw_type_error(env, "%s: %s must be an integer, got %g", fn, name, number);
    return false;
  }
  if (number < (double)min || number > (double)max) {
    js_throw_range_error(env, "ERR_OUT_OF_RANGE",
                         "%s: %s must be in [%lld, %lld], got %.0f", fn, name,
                         (long long)min, (long long)max, number);
    return false;
  }
  *out = (int64_t)number;
  return true;
}

bool js_get_fd(napi_env env, napi_value value, const char *fn, const char *name, int *out) {
  int64_t fd;
  if (!js_get_int(env, value, fn, name, 0, INT32_MAX, &fd)) return false;
  *out = (int)fd;
  return true;
}

bool js_get_typed(napi_env env, napi_value value, const char *fn, const char *name,
                  napi_typedarray_type type, typed_view *out) {
  bool is_typed = false;
  napi_typedarray_type actual;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &actual, &length, &data, NULL, NULL) != napi_ok) {
    js_throw_type_error(env, "%s: %s must be %s %s, got %s", fn, name, article(type),
                        typed_array_name(type), describe_value(env, value));
    return false;
  }
  if (actual != type) {
    js_throw_type_error(env, "%s: %s must be %s %s, got %s", fn, name, article(type),
                        typed_array_name(type), typed_array_name(actual));
    return false;
  }
  out->data = data; // Node already adds the view's byteOffset to this pointer.
  out->length = length;
  out->byte_length = length * typed_element_bytes(type);
  return true;
}
