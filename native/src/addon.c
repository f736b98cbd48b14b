// Module registration. NAPI_MODULE_INIT makes the addon context-aware: every
// worker_thread that loads it gets its own exports, and the addon keeps no global
// state, so any number of threads may use it at once.
#include "exports.h"

#define EXPORT(js_name, fn) \
  { js_name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      EXPORT("openTun", js_open_tun),
      EXPORT("setTunOffload", js_set_tun_offload),
      EXPORT("setNonBlocking", js_set_non_blocking),
      EXPORT("readBatch", js_read_batch),
      EXPORT("writeBatch", js_write_batch),
      EXPORT("dup", js_dup),
      EXPORT("close", js_close),
      EXPORT("createEventFd", js_create_event_fd),
      EXPORT("signalEventFd", js_signal_event_fd),
      EXPORT("setThreadName", js_set_thread_name),
      EXPORT("setSocketOption", js_set_socket_option),
      EXPORT("netlinkOpen", js_netlink_open),
      EXPORT("netlinkExchange", js_netlink_exchange),
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0],
                             functions) != napi_ok) {
    return NULL;
  }
  return exports;
}
