# expect: 2:1 `kernel` must be a block with a name: kernel "py_kernel" { ... }
kernel = "py_kernel"
