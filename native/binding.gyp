{
  "targets": [
    {
      "target_name": "kubelink",
      "sources": [
        "src/addon.c",
        "src/js_args.c",
        "src/tun_open.c",
        "src/tun_offload.c",
        "src/batch_io.c",
        "src/fd_ops.c",
        "src/thread_name.c",
        "src/sock_opt.c",
        "src/netlink.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
