# The optional native kernels (native/, loaded by src/native-kernels/). Built by `npm ci` through
# the package's "install" script (native/build.mjs), which never fails the install: without a
# toolchain, or on a CPU without AVX2+FMA, training uses the WebAssembly kernels.
# Each ISA is its own static library so only its translation unit gets -mavx512f / -mavx2; the
# addon picks one at run time with __builtin_cpu_supports.
{
  "target_defaults": {
    "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-exceptions"],
    "cflags_cc!": ["-fno-rtti", "-std=gnu++17"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"]
  },
  "targets": [
    {
      "target_name": "tsnn_kernels_avx512",
      "type": "static_library",
      "sources": ["native/kernels_avx512.cc"],
      "cflags_cc": ["-mavx512f", "-mfma", "-fPIC"]
    },
    {
      "target_name": "tsnn_kernels_avx2",
      "type": "static_library",
      "sources": ["native/kernels_avx2.cc"],
      "cflags_cc": ["-mavx2", "-mfma", "-fPIC"]
    },
    {
      "target_name": "tsnn_kernels",
      "sources": ["native/addon.cc"],
      "dependencies": ["tsnn_kernels_avx512", "tsnn_kernels_avx2"],
      "libraries": ["-lpthread"]
    }
  ]
}
