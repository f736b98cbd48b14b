// The functions the addon exports to JavaScript (see src/shared/native.ts for types).
#ifndef KUBELINK_EXPORTS_H
#define KUBELINK_EXPORTS_H

#include <node_api.h>

napi_value js_open_tun(napi_env env, napi_callback_info info);
napi_value js_set_tun_offload(napi_env env, napi_callback_info info);
napi_value js_read_batch(napi_env env, napi_callback_info info);
napi_value js_write_batch(napi_env env, napi_callback_info info);
napi_value js_set_non_blocking(napi_env env, napi_callback_info info);
napi_value js_dup(napi_env env, napi_callback_info info);
napi_value js_close(napi_env env, napi_callback_info info);
napi_value js_create_event_fd(napi_env env, napi_callback_info info);
napi_value js_signal_event_fd(napi_env env, napi_callback_info info);
napi_value js_set_thread_name(napi_env env, napi_callback_info info);
napi_value js_set_socket_option(napi_env env, napi_callback_info info);
napi_value js_netlink_open(napi_env env, napi_callback_info info);
napi_value js_netlink_exchange(napi_env env, napi_callback_info info);

#endif
