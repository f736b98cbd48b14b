// readBatch / writeBatch: many packets per call on a non-blocking fd, so a dedicated
// thread pays one JS->C crossing per batch, not per packet.
//
// Slot layout shared with JavaScript (see native/README.md):
//
//   buf:     | slot 0 (slotSize bytes) | slot 1 | ... | slot maxPackets-1 |
//   lengths: | len 0 | len 1 | ... |          packet i = buf[i*slotSize, i*slotSize+len i)
//
// Waiting happens only in poll(), never in read(): a thread blocked in read() on an idle
// TUN cannot be stopped, while poll() also watches wakeFd (an eventfd) for shutdown.
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

// The longest writeBatch waits for a full fd (once per call), then it drops.
#define WRITE_WAIT_MS 10

static int64_t monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

// Reads packets until EAGAIN or max. Returns the count; *err is 0, an errno value for a
// failure before the first packet, or -1 for end of file before the first packet.
// (An error after some packets ends the burst; the next call reports it.)
static int read_burst(int fd, uint8_t *slots, size_t slot_size, int32_t *lengths, int max,
                      int *err) {
  int count = 0;
  *err = 0;
  while (count < max) {
    ssize_t got = read(fd, slots + (size_t)count * slot_size, slot_size);
    if (got > 0) {
      lengths[count++] = (int32_t)got;
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (count == 0) *err = got == 0 ? -1 : errno;
    break;
  }
  return count;
}

static void drain_event_fd(int fd) {
  uint64_t counter;
  ssize_t got;
  do {
    got = read(fd, &counter, sizeof counter);
  } while (got < 0 && errno == EINTR);
  // EAGAIN: nothing to drain (a spurious wake-up); anything else shows on the next poll.
}

napi_value js_read_batch(napi_env env, napi_callback_info info) {
  static const char fn[] = "readBatch";
  napi_value argv[7];
  int fd, wake_fd;
  int64_t slot_size, max_packets, timeout_ms, wake_arg;
  typed_view buf, lengths;
  if (!js_get_args(env, info, fn, 7, 7, argv) || !js_get_fd(env, argv[0], fn, "fd", &fd) ||
      !js_get_typed(env, argv[1], fn, "buf", napi_uint8_array, &buf) ||
      !js_get_int(env, argv[2], fn, "slotSize", 1, INT32_MAX, &slot_size) ||
      !js_get_typed(env, argv[3], fn, "lengths", napi_int32_array, &lengths) ||
      !js_get_int(env, argv[4], fn, "maxPackets", 1, INT32_MAX, &max_packets) ||
      !js_get_int(env, argv[5], fn, "timeoutMs", -1, INT32_MAX, &timeout_ms) ||
      !js_get_int(env, argv[6], fn, "wakeFd", -1, INT32_MAX, &wake_arg)) {
    return NULL;
  }
  wake_fd = (int)wake_arg;
  if ((uint64_t)slot_size * (uint64_t)max_packets > buf.byte_length) {
    js_throw_range_error(env, "ERR_OUT_OF_RANGE",
                         "%s: buf is too small: slotSize (%lld) * maxPackets (%lld) exceeds "
                         "buf.byteLength (%zu)",
                         fn, (long long)slot_size, (long long)max_packets, buf.byte_length);
    return NULL;
  }
  if ((uint64_t)max_packets > lengths.length) {
    js_throw_range_error(env, "ERR_OUT_OF_RANGE",
                         "%s: lengths is too short: lengths.length (%zu) < maxPackets (%lld)",
                         fn, lengths.length, (long long)max_packets);
    return NULL;
  }

  int64_t deadline = timeout_ms >= 0 ? monotonic_ms() + timeout_ms : -1;
  bool hung_up = false;
  for (;;) {
    int err;
    int count = read_burst(fd, buf.data, (size_t)slot_size, lengths.data, (int)max_packets, &err);
    if (count > 0) return js_int(env, count);
    if (err == -1) {
      js_throw_coded(env, "EOF", "%s: fd %d reached end of file", fn, fd);
      return NULL;
    }
    if (err != 0) {
      js_throw_errno(env, err, "read", "%s: read from fd %d failed", fn, fd);
      return NULL;
    }
    if (hung_up) {
      js_throw_coded(env, "EIO", "%s: fd %d reports an error or hang-up but has nothing to read",
                     fn, fd);
      return NULL;
    }

    int wait_ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ms();
      wait_ms = left > 0 ? (int)left : 0;
    }
    struct pollfd watched[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int ready = poll(watched, wake_fd >= 0 ? 2 : 1, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      js_throw_errno(env, errno, "poll", "%s: poll on fd %d failed", fn, fd);
      return NULL;
    }
    if (wake_fd >= 0 && (watched[1].revents & POLLNVAL)) {
      js_throw_errno(env, EBADF, "poll", "%s: wakeFd %d is not open", fn, wake_fd);
      return NULL;
    }
    if (watched[0].revents & POLLNVAL) {
      js_throw_errno(env, EBADF, "poll", "%s: fd %d is not open", fn, fd);
      return NULL;
    }
    if (wake_fd >= 0 && (watched[1].revents & POLLIN)) {
      drain_event_fd(wake_fd);
      return js_int(env, -1);
    }
    if (ready == 0) return js_int(env, 0);
    hung_up = (watched[0].revents & (POLLERR | POLLHUP)) && !(watched[0].revents & POLLIN);
  }
}

// Waits until fd is writable or WRITE_WAIT_MS passed. Returns 1 when writable, 0 on
// timeout, -1 with errno set on failure.
static int wait_writable(int fd) {
  int64_t deadline = monotonic_ms() + WRITE_WAIT_MS;
  for (;;) {
    int64_t left = deadline - monotonic_ms();
    struct pollfd watched = {.fd = fd, .events = POLLOUT};
    int ready = poll(&watched, 1, left > 0 ? (int)left : 0);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return -1;
    return ready > 0 && (watched.revents & POLLOUT) ? 1 : 0;
  }
}

static bool is_full(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM;
}

// The kernel refused this one packet (malformed, too big, device down): skip it.
static bool is_rejected(int err) {
  return err == EINVAL || err == EIO || err == EMSGSIZE;
}

napi_value js_write_batch(napi_env env, napi_callback_info info) {
  static const char fn[] = "writeBatch";
  napi_value argv[6];
  int fd;
  int64_t count;
  typed_view buf, offsets, lengths, prefix = {NULL, 0, 0};
  if (!js_get_args(env, info, fn, 5, 6, argv) || !js_get_fd(env, argv[0], fn, "fd", &fd) ||
      !js_get_typed(env, argv[1], fn, "buf", napi_uint8_array, &buf) ||
      !js_get_typed(env, argv[2], fn, "offsets", napi_int32_array, &offsets) ||
      !js_get_typed(env, argv[3], fn, "lengths", napi_int32_array, &lengths) ||
      !js_get_int(env, argv[4], fn, "count", 0, INT32_MAX, &count)) {
    return NULL;
  }
  napi_valuetype prefix_type;
  napi_typeof(env, argv[5], &prefix_type);
  if (prefix_type != napi_undefined &&
      !js_get_typed(env, argv[5], fn, "prefix", napi_uint8_array, &prefix)) {
    return NULL;
  }
  if ((uint64_t)count > offsets.length || (uint64_t)count > lengths.length) {
    js_throw_range_error(env, "ERR_OUT_OF_RANGE",
                         "%s: count (%lld) exceeds offsets.length (%zu) or lengths.length (%zu)",
                         fn, (long long)count, offsets.length, lengths.length);
    return NULL;
  }
  const int32_t *offset_of = offsets.data;
  const int32_t *length_of = lengths.data;
  // Check every packet before writing any, so a bad batch writes nothing.
  for (int64_t i = 0; i < count; i++) {
    if (offset_of[i] < 0 || length_of[i] < 0 ||
        (uint64_t)offset_of[i] + (uint64_t)length_of[i] > buf.byte_length) {
      js_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "%s: packet %lld (offsets[%lld] = %d, lengths[%lld] = %d) lies "
                           "outside buf (byteLength %zu)",
                           fn, (long long)i, (long long)i, offset_of[i], (long long)i,
                           length_of[i], buf.byte_length);
      return NULL;
    }
  }

  const uint8_t *base = buf.data;
  int written = 0;
  bool waited = false; // at most one bounded wait per call: never block the writer long
  // With a prefix, each packet is written as prefix + packet in one writev (e.g. a zero
  // virtio_net_hdr in front of a plain IP packet), so neither needs copying together.
  struct iovec iov[2] = {{.iov_base = prefix.data, .iov_len = prefix.byte_length}, {0}};
  for (int64_t i = 0; i < count; i++) {
    iov[1].iov_base = (void *)(base + offset_of[i]);
    iov[1].iov_len = (size_t)length_of[i];
    for (;;) {
      ssize_t done = prefix.byte_length > 0 ? writev(fd, iov, 2) : write(fd, iov[1].iov_base, iov[1].iov_len);
      if (done >= 0) {
        written++;
        break;
      }
      int err = errno;
      if (err == EINTR) continue;
      if (is_full(err)) {
        if (waited) break; // drop
        waited = true;
        int ready = wait_writable(fd);
        if (ready > 0) continue;
        if (ready == 0) break; // drop
        err = errno;
      } else if (is_rejected(err)) {
        break; // skip
      }
      js_throw_errno(env, err, "write", "%s: write to fd %d failed", fn, fd);
      return NULL;
    }
  }
  return js_int(env, written);
}
