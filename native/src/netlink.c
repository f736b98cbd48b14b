// rtnetlink without forking: a NETLINK_ROUTE socket (optionally in another network
// namespace) and one asynchronous exchange per batch of requests.
//
// The TypeScript side (src/main/net/rtnetlink.ts) builds the request messages and parses
// the replies; this file only moves bytes, so it knows nothing about routes:
//
//   request:  | nlmsghdr seq=s   | nlmsghdr seq=s+1 | ... | nlmsghdr seq=s+n-1 |
//   replies:  every datagram the kernel answered with, concatenated (each is whole,
//             4-byte aligned netlink messages, so the result parses as one stream)
//
// Every request message carries NLM_F_ACK (exactly one NLMSG_ERROR answers it, error 0
// for success) or is a dump (NLM_F_DUMP: answered by parts and NLMSG_DONE). That lets the
// exchange know when it is complete without understanding the messages. Messages are
// sent in chunks of at most CHUNK_MESSAGES / CHUNK_BYTES per sendmsg(): rtnetlink handles
// a whole sendmsg() synchronously and queues one ack per message on our socket, so a
// chunk must fit the receive buffer; a dump ends its chunk (one dump at a time per
// socket). The acks are drained with recvmmsg(), many per call.
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CHUNK_MESSAGES 128
#define CHUNK_BYTES (64 * 1024)
#define RECV_VLEN 64
#define RECV_SLOT (16 * 1024)
#define RCVBUF_BYTES (4 * 1024 * 1024)
#define MAX_MESSAGES 65536

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

// ---- opening a socket, possibly inside another network namespace ----

typedef struct {
  const char *netns_path; // NULL: the caller's namespace
  int fd;
  int err;
  const char *syscall;
} open_job;

static int open_route_socket(open_job *job) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    job->syscall = "socket";
    return -errno;
  }
  int one = 1;
  int rcvbuf = RCVBUF_BYTES;
  // FORCE passes the rmem_max limit (we run as root); fall back for unprivileged tests.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Acks without a copy of the request, error messages with the kernel's text, and dump
  // requests whose header filters (table, protocol) the kernel applies. Older kernels
  // lack some: the TypeScript side filters again and copes without text.
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int err = errno;
    close(fd);
    job->syscall = "bind";
    return -err;
  }
  return fd;
}

// Runs on a short-lived thread so that setns() never changes the caller's namespace:
// a socket keeps the namespace it was created in.
static void *open_in_netns(void *arg) {
  open_job *job = arg;
  int ns = open(job->netns_path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    job->err = errno;
    job->syscall = "open";
    return NULL;
  }
  if (setns(ns, CLONE_NEWNET) < 0) {
    job->err = errno;
    job->syscall = "setns";
    close(ns);
    return NULL;
  }
  close(ns);
  int fd = open_route_socket(job);
  if (fd < 0) job->err = -fd;
  else job->fd = fd;
  return NULL;
}

napi_value js_netlink_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!js_get_args(env, info, "netlinkOpen", 0, 1, argv)) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[0], &type);
  char path[4096];
  open_job job = {.netns_path = NULL, .fd = -1, .err = 0, .syscall = ""};
  if (type == napi_string) {
    size_t length = 0;
    napi_get_value_string_utf8(env, argv[0], path, sizeof path, &length);
    if (length == 0 || length >= sizeof path - 1) {
      js_throw_type_error(env, "netlinkOpen: netnsPath must be a non-empty path");
      return NULL;
    }
    job.netns_path = path;
  } else if (type != napi_undefined && type != napi_null) {
    js_throw_type_error(env, "netlinkOpen: netnsPath must be a string or undefined");
    return NULL;
  }
  if (job.netns_path == NULL) {
    int fd = open_route_socket(&job);
    if (fd < 0) {
      js_throw_errno(env, -fd, job.syscall, "netlinkOpen");
      return NULL;
    }
    return js_int(env, fd);
  }
  pthread_t thread;
  int err = pthread_create(&thread, NULL, open_in_netns, &job);
  if (err != 0) {
    js_throw_errno(env, err, "pthread_create", "netlinkOpen");
    return NULL;
  }
  pthread_join(thread, NULL);
  if (job.err != 0) {
    js_throw_errno(env, job.err, job.syscall, "netlinkOpen: network namespace %s", path);
    return NULL;
  }
  return js_int(env, job.fd);
}

// ---- one exchange: send a batch, collect every reply ----

typedef struct {
  int fd;
  int timeout_ms;
  uint8_t *request;
  size_t request_len;
  size_t count;
  size_t *offsets;  // offset of message i in request
  uint8_t *is_dump; // message i is a dump request
  uint8_t *done;    // message i has had its final reply
  uint32_t first_seq;
  uint8_t *response;
  size_t response_len;
  size_t response_cap;
  int err;
  const char *syscall;
  napi_deferred deferred;
  napi_async_work work;
} exchange;

static void exchange_free(exchange *x) {
  free(x->request);
  free(x->offsets);
  free(x->is_dump);
  free(x->done);
  free(x->response);
  free(x);
}

static bool append_response(exchange *x, const uint8_t *data, size_t length) {
  if (x->response_len + length > x->response_cap) {
    size_t cap = x->response_cap ? x->response_cap : 64 * 1024;
    while (cap < x->response_len + length) cap *= 2;
    uint8_t *grown = realloc(x->response, cap);
    if (grown == NULL) return false;
    x->response = grown;
    x->response_cap = cap;
  }
  memcpy(x->response + x->response_len, data, length);
  x->response_len += length;
  return true;
}

// Marks the messages a datagram completes; returns how many it completed.
static size_t note_replies(exchange *x, const uint8_t *data, size_t length) {
  size_t completed = 0;
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= length) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)(data + off);
    if (h->nlmsg_len < sizeof(struct nlmsghdr) || off + h->nlmsg_len > length) break;
    uint32_t index = h->nlmsg_seq - x->first_seq;
    if (index < x->count && !x->done[index]) {
      bool final = h->nlmsg_type == NLMSG_ERROR || (x->is_dump[index] && h->nlmsg_type == NLMSG_DONE);
      if (final) {
        x->done[index] = 1;
        completed++;
      }
    }
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return completed;
}

static void exchange_execute(napi_env env, void *data) {
  exchange *x = data;
  struct timeval tv = {.tv_sec = x->timeout_ms / 1000, .tv_usec = (x->timeout_ms % 1000) * 1000};
  if (setsockopt(x->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
    x->err = errno;
    x->syscall = "setsockopt";
    return;
  }
  uint8_t *slots = malloc((size_t)RECV_VLEN * RECV_SLOT);
  struct mmsghdr msgs[RECV_VLEN];
  struct iovec iovs[RECV_VLEN];
  if (slots == NULL) {
    x->err = ENOMEM;
    x->syscall = "malloc";
    return;
  }
  size_t next = 0;
  while (next < x->count && x->err == 0) {
    size_t end = next;
    size_t bytes = 0;
    while (end < x->count && end - next < CHUNK_MESSAGES) {
      size_t len = (end + 1 < x->count ? x->offsets[end + 1] : x->request_len) - x->offsets[end];
      if (end > next && bytes + len > CHUNK_BYTES) break;
      bytes += len;
      end++;
      if (x->is_dump[end - 1]) break;
    }
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct iovec iov = {.iov_base = x->request + x->offsets[next], .iov_len = bytes};
    struct msghdr msg = {.msg_name = &kernel, .msg_namelen = sizeof kernel, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t sent;
    do sent = sendmsg(x->fd, &msg, 0);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      x->err = errno;
      x->syscall = "sendmsg";
      break;
    }
    size_t pending = end - next;
    while (pending > 0) {
      for (int i = 0; i < RECV_VLEN; i++) {
        iovs[i].iov_base = slots + (size_t)i * RECV_SLOT;
        iovs[i].iov_len = RECV_SLOT;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      // MSG_WAITFORONE: block (up to SO_RCVTIMEO) for the first datagram only.
      int got = recvmmsg(x->fd, msgs, RECV_VLEN, MSG_WAITFORONE, NULL);
      if (got < 0) {
        if (errno == EINTR) continue;
        x->err = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
        x->syscall = "recvmmsg";
        break;
      }
      for (int i = 0; i < got; i++) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          x->err = EMSGSIZE;
          x->syscall = "recvmmsg";
          break;
        }
        const uint8_t *datagram = slots + (size_t)i * RECV_SLOT;
        size_t length = msgs[i].msg_len;
        if (!append_response(x, datagram, length)) {
          x->err = ENOMEM;
          x->syscall = "realloc";
          break;
        }
        size_t completed = note_replies(x, datagram, length);
        pending = completed > pending ? 0 : pending - completed;
      }
      if (x->err != 0) break;
    }
    next = end;
  }
  free(slots);
}

static void exchange_complete(napi_env env, napi_status status, void *data) {
  exchange *x = data;
  napi_value result = NULL;
  if (status == napi_ok && x->err == 0) {
    void *copy = NULL;
    napi_value arraybuffer;
    if (napi_create_arraybuffer(env, x->response_len, &copy, &arraybuffer) == napi_ok) {
      if (x->response_len > 0) memcpy(copy, x->response, x->response_len);
      napi_create_typedarray(env, napi_uint8_array, x->response_len, arraybuffer, 0, &result);
    }
  }
  if (result != NULL) {
    napi_resolve_deferred(env, x->deferred, result);
  } else {
    int err = x->err != 0 ? x->err : ECANCELED;
    const char *code = strerrorname_np(err);
    char message[256];
    snprintf(message, sizeof message, "netlinkExchange: %s failed: %s (%s)%s",
             x->syscall ? x->syscall : "exchange", strerror(err), code ? code : "EUNKNOWN",
             err == ETIMEDOUT ? " waiting for the kernel's replies" : "");
    napi_value code_value, message_value, error, errno_value, syscall_value;
    napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &code_value);
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
    napi_create_error(env, code_value, message_value, &error);
    napi_create_int32(env, -err, &errno_value);
    napi_set_named_property(env, error, "errno", errno_value);
    napi_create_string_utf8(env, x->syscall ? x->syscall : "", NAPI_AUTO_LENGTH, &syscall_value);
    napi_set_named_property(env, error, "syscall", syscall_value);
    napi_reject_deferred(env, x->deferred, error);
  }
  napi_delete_async_work(env, x->work);
  exchange_free(x);
}

// Checks the request's framing and indexes its messages; throws a TypeError naming the
// message that is wrong.
static bool index_request(napi_env env, exchange *x) {
  size_t off = 0;
  size_t cap = 64;
  x->offsets = malloc(cap * sizeof *x->offsets);
  x->is_dump = malloc(cap);
  if (x->offsets == NULL || x->is_dump == NULL) {
    js_throw_coded(env, "ENOMEM", "netlinkExchange: out of memory");
    return false;
  }
  while (off < x->request_len) {
    if (x->request_len - off < sizeof(struct nlmsghdr)) {
      js_throw_type_error(env, "netlinkExchange: %zu trailing bytes after message %zu", x->request_len - off, x->count);
      return false;
    }
    struct nlmsghdr h;
    memcpy(&h, x->request + off, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > x->request_len - off ||
        (NLMSG_ALIGN(h.nlmsg_len) != h.nlmsg_len && off + h.nlmsg_len != x->request_len)) {
      js_throw_type_error(env, "netlinkExchange: message %zu has a bad nlmsg_len %u", x->count, h.nlmsg_len);
      return false;
    }
    if (x->count == 0) x->first_seq = h.nlmsg_seq;
    if (h.nlmsg_seq != x->first_seq + (uint32_t)x->count) {
      js_throw_type_error(env, "netlinkExchange: message %zu has seq %u, expected %u (consecutive)", x->count, h.nlmsg_seq, x->first_seq + (uint32_t)x->count);
      return false;
    }
    bool dump = (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    if (!(h.nlmsg_flags & NLM_F_REQUEST) || (!dump && !(h.nlmsg_flags & NLM_F_ACK))) {
      js_throw_type_error(env, "netlinkExchange: message %zu needs NLM_F_REQUEST and NLM_F_ACK or NLM_F_DUMP", x->count);
      return false;
    }
    if (x->count == MAX_MESSAGES) {
      js_throw_range_error(env, "ERR_OUT_OF_RANGE", "netlinkExchange: more than %d messages", MAX_MESSAGES);
      return false;
    }
    if (x->count == cap) {
      cap *= 2;
      size_t *offsets = realloc(x->offsets, cap * sizeof *offsets);
      if (offsets != NULL) x->offsets = offsets;
      uint8_t *is_dump = realloc(x->is_dump, cap);
      if (is_dump != NULL) x->is_dump = is_dump;
      if (offsets == NULL || is_dump == NULL) {
        js_throw_coded(env, "ENOMEM", "netlinkExchange: out of memory");
        return false;
      }
    }
    x->offsets[x->count] = off;
    x->is_dump[x->count] = dump;
    x->count++;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  if (x->count == 0) {
    js_throw_type_error(env, "netlinkExchange: the request holds no message");
    return false;
  }
  x->done = calloc(x->count, 1);
  if (x->done == NULL) {
    js_throw_coded(env, "ENOMEM", "netlinkExchange: out of memory");
    return false;
  }
  return true;
}

napi_value js_netlink_exchange(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!js_get_args(env, info, "netlinkExchange", 3, 3, argv)) return NULL;
  int fd;
  int64_t timeout_ms;
  typed_view request;
  if (!js_get_fd(env, argv[0], "netlinkExchange", "fd", &fd) ||
      !js_get_typed(env, argv[1], "netlinkExchange", "request", napi_uint8_array, &request) ||
      !js_get_int(env, argv[2], "netlinkExchange", "timeoutMs", 1, 600000, &timeout_ms)) {
    return NULL;
  }
  exchange *x = calloc(1, sizeof *x);
  if (x == NULL) {
    js_throw_coded(env, "ENOMEM", "netlinkExchange: out of memory");
    return NULL;
  }
  x->fd = fd;
  x->timeout_ms = (int)timeout_ms;
  x->request_len = request.byte_length;
  // A copy: the work runs on the thread pool while JavaScript may reuse the buffer.
  x->request = malloc(request.byte_length ? request.byte_length : 1);
  if (x->request == NULL) {
    exchange_free(x);
    js_throw_coded(env, "ENOMEM", "netlinkExchange: out of memory");
    return NULL;
  }
  memcpy(x->request, request.data, request.byte_length);
  if (!index_request(env, x)) {
    exchange_free(x);
    return NULL;
  }
  napi_value promise, name;
  napi_create_string_utf8(env, "kubelink:netlinkExchange", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &x->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, exchange_execute, exchange_complete, x, &x->work) != napi_ok ||
      napi_queue_async_work(env, x->work) != napi_ok) {
    exchange_free(x);
    js_throw_coded(env, "EINVAL", "netlinkExchange: cannot queue the work");
    return NULL;
  }
  return promise;
}
