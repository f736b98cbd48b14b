// Argument readers and error throwers shared by the addon's functions.
// Every reader returns false after it has thrown a JS exception; the caller then
// returns NULL so the exception reaches JavaScript.
#ifndef KUBELINK_JS_ARGS_H
#define KUBELINK_JS_ARGS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The memory behind a TypedArray (ArrayBuffer- or SharedArrayBuffer-backed).
// `data` already includes the view's byte offset.
typedef struct {
  void *data;
  size_t length;      // elements
  size_t byte_length; // bytes
} typed_view;

// Reads between min and max arguments into argv (missing ones are undefined).
bool js_get_args(napi_env env, napi_callback_info info, const char *fn, size_t min,
                 size_t max, napi_value *argv);
// An integer Number in [min, max]; TypeError otherwise, RangeError when out of range.
bool js_get_int(napi_env env, napi_value value, const char *fn, const char *name,
                int64_t min, int64_t max, int64_t *out);
// A file descriptor: an integer in [0, INT32_MAX].
bool js_get_fd(napi_env env, napi_value value, const char *fn, const char *name, int *out);
// A TypedArray of exactly the given element type.
bool js_get_typed(napi_env env, napi_value value, const char *fn, const char *name,
                  napi_typedarray_type type, typed_view *out);

void js_throw_type_error(napi_env env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void js_throw_range_error(napi_env env, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// An Error shaped like Node's system errors: code (errno name), errno (negative),
// syscall. The message is fmt, followed by ": <strerror> (<CODE>)".
void js_throw_errno(napi_env env, int err, const char *syscall, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// A plain Error with the given code (e.g. "EOF"), no errno.
void js_throw_coded(napi_env env, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

napi_value js_int(napi_env env, int64_t value);
napi_value js_undefined(napi_env env);

#endif
