// setThreadName(name): names the calling OS thread (prctl PR_SET_NAME, at most 15 bytes),
// so /proc/<pid>/task/<tid>/comm, top -H and perf tell the data-path threads apart (Node 20
// names every thread "node", Node 24 gives all piscina workers one name).
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <sys/prctl.h>

// The kernel keeps TASK_COMM_LEN (16) bytes including the terminating NUL.
#define THREAD_NAME_MAX 15

napi_value js_set_thread_name(napi_env env, napi_callback_info info) {
  static const char fn[] = "setThreadName";
  napi_value argv[1];
  if (!js_get_args(env, info, fn, 1, 1, argv)) return NULL;
  char name[THREAD_NAME_MAX + 1];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
    js_throw_type_error(env, "%s: name must be a string", fn);
    return NULL;
  }
  if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0) {
    js_throw_errno(env, errno, "prctl", "%s: cannot name the thread %s", fn, name);
    return NULL;
  }
  return js_undefined(env);
}
