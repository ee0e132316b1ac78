{
  "targets": [
    {
      "target_name": "diffuse_native",
      "sources": [
        "native/addon.cc",
        "native/kernels/core.cc",
        "native/kernels/unary.cc",
        "native/kernels/conv2d.cc",
        "native/kernels/matmul.cc",
        "native/kernels/binary.cc",
        "native/kernels/layout.cc",
        "native/kernels/norm.cc",
        "native/kernels/attention.cc",
        "native/kernels/optim.cc",
        "native/kernels/random.cc",
        "native/kernels/bench.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
