// setSocketOption(fd, level, option, value): setsockopt with an int value, for the few
// options Node does not expose on TCP sockets (TCP_NOTSENT_LOWAT, SO_SNDBUF, SO_RCVBUF):
// the tunnels bound what the kernel holds unsent, so queues (and latency) stay short.
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

napi_value js_set_socket_option(napi_env env, napi_callback_info info) {
  static const char fn[] = "setSocketOption";
  napi_value argv[4];
  int fd;
  int64_t level, option, value;
  if (!js_get_args(env, info, fn, 4, 4, argv) || !js_get_fd(env, argv[0], fn, "fd", &fd) ||
      !js_get_int(env, argv[1], fn, "level", 0, INT_MAX, &level) ||
      !js_get_int(env, argv[2], fn, "option", 0, INT_MAX, &option) ||
      !js_get_int(env, argv[3], fn, "value", INT_MIN, INT_MAX, &value)) {
    return NULL;
  }
  int v = (int)value;
  if (setsockopt(fd, (int)level, (int)option, &v, sizeof v) != 0) {
    js_throw_errno(env, errno, "setsockopt", "%s: fd %d, level %d, option %d", fn, fd, (int)level,
                   (int)option);
    return NULL;
  }
  return js_undefined(env);
}
