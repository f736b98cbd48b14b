// openTun(name, { multiQueue, vnetHdr }) -> { fd, name }: a layer-3 TUN queue without
// packet info header, close-on-exec and non-blocking (readers wait in poll(), see
// batch_io.c); with vnetHdr, every packet is preceded by a virtio_net_hdr.
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_PATH "/dev/net/tun"
#define FN "openTun"
#define VNET_HDR_BYTES ((int)sizeof(struct virtio_net_hdr))

// Reads the device name into name[IFNAMSIZ]; an empty name lets the kernel pick tunN.
static bool get_device_name(napi_env env, napi_value value, char name[IFNAMSIZ]) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    js_throw_type_error(env, FN ": name must be a string");
    return false;
  }
  if (length > IFNAMSIZ - 1) {
    char shown[64];
    napi_get_value_string_utf8(env, value, shown, sizeof shown, NULL);
    js_throw_range_error(env, "ENAMETOOLONG",
                         FN ": TUN device name \"%s%s\" is %zu bytes long; Linux allows at "
                         "most %d (IFNAMSIZ-1)",
                         shown, length >= sizeof shown ? "..." : "", length, IFNAMSIZ - 1);
    return false;
  }
  napi_get_value_string_utf8(env, value, name, IFNAMSIZ, NULL);
  if (strlen(name) != length) {
    js_throw_type_error(env, FN ": TUN device name must not contain NUL characters");
    return false;
  }
  return true;
}

// Reads the boolean options.<key> into *out (false when options or the key is absent).
static bool get_bool_option(napi_env env, napi_value options, const char *key, bool *out) {
  napi_valuetype type;
  *out = false;
  napi_typeof(env, options, &type);
  if (type == napi_undefined || type == napi_null) return true;
  if (type != napi_object) {
    js_throw_type_error(env, FN ": options must be an object");
    return false;
  }
  napi_value flag;
  if (napi_get_named_property(env, options, key, &flag) != napi_ok) return false;
  napi_typeof(env, flag, &type);
  if (type == napi_undefined) return true;
  if (type != napi_boolean) {
    js_throw_type_error(env, FN ": options.%s must be a boolean", key);
    return false;
  }
  napi_get_value_bool(env, flag, out);
  return true;
}

// With IFF_VNET_HDR every read starts with a struct virtio_net_hdr (10 bytes) and every
// write must: the kernel hands out and accepts GSO super-packets and partial checksums
// through it. Its 16-bit fields are fixed to little endian (virtio 1.0) so the header
// can cross the wire between hosts unchanged.
static bool set_vnet_header(napi_env env, int fd, const char *name) {
  int size = VNET_HDR_BYTES;
  if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
    js_throw_errno(env, errno, "ioctl", FN ": TUNSETVNETHDRSZ %d for device %s failed", size, name);
    return false;
  }
  int little_endian = 1;
  if (ioctl(fd, TUNSETVNETLE, &little_endian) < 0) {
    js_throw_errno(env, errno, "ioctl", FN ": TUNSETVNETLE for device %s failed", name);
    return false;
  }
  return true;
}

static void throw_open_error(napi_env env, int err, const char *name) {
  switch (err) {
  case ENOENT:
    js_throw_errno(env, err, "open",
                   "TUN not available: " TUN_PATH " does not exist; load the tun kernel "
                   "module or run with the device mounted");
    return;
  case ENODEV:
  case ENXIO:
    js_throw_errno(env, err, "open",
                   "TUN not available: " TUN_PATH " exists but no driver answers; load the "
                   "tun kernel module");
    return;
  case EACCES:
  case EPERM:
    js_throw_errno(env, err, "open", "opening TUN device %s needs CAP_NET_ADMIN", name);
    return;
  default:
    js_throw_errno(env, err, "open", FN ": cannot open " TUN_PATH " for device %s", name);
  }
}

static void throw_attach_error(napi_env env, int err, const char *name, bool multi_queue, bool vnet_hdr) {
  switch (err) {
  case EPERM:
  case EACCES:
    js_throw_errno(env, err, "ioctl", "opening TUN device %s needs CAP_NET_ADMIN", name);
    return;
  case EBUSY:
    js_throw_errno(env, err, "ioctl",
                   "TUN device %s is busy: another file descriptor already holds it (open "
                   "it with multiQueue in every opener to share it)",
                   name);
    return;
  case EINVAL:
    js_throw_errno(env, err, "ioctl",
                   "the kernel rejected TUN device name %s: the name is invalid, or a device "
                   "of that name exists that is not a TUN device%s%s",
                   name, multi_queue ? " opened with multiQueue" : " in single-queue mode",
                   vnet_hdr ? " and vnetHdr" : "");
    return;
  default:
    js_throw_errno(env, err, "ioctl", FN ": TUNSETIFF for device %s failed", name);
  }
}

napi_value js_open_tun(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  bool multi_queue, vnet_hdr;
  if (!js_get_args(env, info, FN, 1, 2, argv) || !get_device_name(env, argv[0], name) ||
      !get_bool_option(env, argv[1], "multiQueue", &multi_queue) ||
      !get_bool_option(env, argv[1], "vnetHdr", &vnet_hdr)) {
    return NULL;
  }
  const char *shown_name = name[0] != '\0' ? name : "(kernel-chosen name)";

  int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw_open_error(env, errno, shown_name);
    return NULL;
  }

  struct ifreq request;
  memset(&request, 0, sizeof request);
  request.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0) |
                      (vnet_hdr ? IFF_VNET_HDR : 0);
  memcpy(request.ifr_name, name, IFNAMSIZ);
  if (ioctl(fd, TUNSETIFF, &request) < 0) {
    int err = errno;
    close(fd);
    throw_attach_error(env, err, shown_name, multi_queue, vnet_hdr);
    return NULL;
  }
  request.ifr_name[IFNAMSIZ - 1] = '\0';
  if (vnet_hdr && !set_vnet_header(env, fd, request.ifr_name)) {
    close(fd);
    return NULL;
  }

  napi_value result, fd_value, name_value;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, fd, &fd_value) != napi_ok ||
      napi_create_string_utf8(env, request.ifr_name, NAPI_AUTO_LENGTH, &name_value) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_value) != napi_ok ||
      napi_set_named_property(env, result, "name", name_value) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}
