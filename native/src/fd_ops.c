// Small fd helpers: non-blocking mode, close-on-exec dup (for handing a socket from one
// event loop to another), close, and eventfds used to wake readBatch.
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static bool get_single_fd(napi_env env, napi_callback_info info, const char *fn, int *fd) {
  napi_value argv[1];
  return js_get_args(env, info, fn, 1, 1, argv) && js_get_fd(env, argv[0], fn, "fd", fd);
}

napi_value js_set_non_blocking(napi_env env, napi_callback_info info) {
  int fd;
  if (!get_single_fd(env, info, "setNonBlocking", &fd)) return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    js_throw_errno(env, errno, "fcntl", "setNonBlocking: fd %d", fd);
    return NULL;
  }
  return js_undefined(env);
}

napi_value js_dup(napi_env env, napi_callback_info info) {
  int fd;
  if (!get_single_fd(env, info, "dup", &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    js_throw_errno(env, errno, "fcntl", "dup: cannot duplicate fd %d", fd);
    return NULL;
  }
  return js_int(env, copy);
}

napi_value js_close(napi_env env, napi_callback_info info) {
  int fd;
  if (!get_single_fd(env, info, "close", &fd)) return NULL;
  // No retry on EINTR: Linux has released the fd already, and a retry could close an
  // fd another thread just received.
  if (close(fd) < 0 && errno != EINTR) {
    js_throw_errno(env, errno, "close", "close: fd %d", fd);
    return NULL;
  }
  return js_undefined(env);
}

napi_value js_create_event_fd(napi_env env, napi_callback_info info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    js_throw_errno(env, errno, "eventfd", "createEventFd");
    return NULL;
  }
  return js_int(env, fd);
}

napi_value js_signal_event_fd(napi_env env, napi_callback_info info) {
  int fd;
  if (!get_single_fd(env, info, "signalEventFd", &fd)) return NULL;
  uint64_t one = 1;
  ssize_t done;
  do {
    done = write(fd, &one, sizeof one);
  } while (done < 0 && errno == EINTR);
  // EAGAIN means the counter is saturated: the reader is signalled already.
  if (done < 0 && errno != EAGAIN) {
    js_throw_errno(env, errno, "write", "signalEventFd: fd %d", fd);
    return NULL;
  }
  return js_undefined(env);
}
