// setTunOffload(fd, flags): which offloads the kernel may hand a TUN queue (TUNSETOFFLOAD
// with TUN_F_* bits). With TUN_F_CSUM|TUN_F_TSO4 the stack stops segmenting and
// checksumming before the TUN: a read returns a TCP super-packet of up to 64 KiB whose
// virtio_net_hdr says how to cut it (gso_type, gso_size) and where the checksum goes.
// Only meaningful on a queue opened with vnetHdr: without the header a reader could not
// tell a super-packet from a packet, so that combination is refused here.
#include "exports.h"
#include "js_args.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>

#define FN "setTunOffload"
// TUN_F_CSUM .. TUN_F_UFO, plus TUN_F_USO4 (0x20) and TUN_F_USO6 (0x40) of newer headers.
#define KNOWN_FLAGS 0x7f

napi_value js_set_tun_offload(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t flags;
  if (!js_get_args(env, info, FN, 2, 2, argv) || !js_get_fd(env, argv[0], FN, "fd", &fd) ||
      !js_get_int(env, argv[1], FN, "flags", 0, KNOWN_FLAGS, &flags)) {
    return NULL;
  }
  struct ifreq request;
  memset(&request, 0, sizeof request);
  if (ioctl(fd, TUNGETIFF, &request) < 0) {
    js_throw_errno(env, errno, "ioctl", FN ": fd %d is not an attached TUN queue (TUNGETIFF)", fd);
    return NULL;
  }
  if (!(request.ifr_flags & IFF_VNET_HDR)) {
    js_throw_coded(env, "EINVAL",
                   FN ": TUN device %.*s was opened without vnetHdr; offloads need the "
                   "virtio_net_hdr to describe super-packets",
                   IFNAMSIZ, request.ifr_name);
    return NULL;
  }
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) {
    js_throw_errno(env, errno, "ioctl", FN ": TUNSETOFFLOAD 0x%llx on device %.*s failed",
                   (unsigned long long)flags, IFNAMSIZ, request.ifr_name);
    return NULL;
  }
  return js_undefined(env);
}
