{
  "targets": [
    {
      "target_name": "filespace_fuse",
      "sources": [
        "src/session.cc",
        "src/js.cc",
        "src/reply.cc",
        "src/handover.cc",
        "src/module.cc",
        "src/xattr-memo.cc"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wno-missing-field-initializers",
        "<!@(pkg-config --cflags fuse3)"
      ],
      "cflags_cc!": [
        "-fno-exceptions"
      ],
      "libraries": [
        "<!@(pkg-config --libs fuse3)"
      ],
      "defines": [
        "NAPI_VERSION=8"
      ]
    },
    {
      "target_name": "filespace_io",
      "sources": [
        "src/io.cc",
        "src/io-file.cc"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "-Wall"
      ],
      "defines": [
        "NAPI_VERSION=8"
      ]
    }
  ]
}
