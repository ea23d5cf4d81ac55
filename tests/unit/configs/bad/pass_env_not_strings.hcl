# expect: 3:23 this list cannot be read
kernel "py_kernel" {
  pass_env = ["PATH", 42]
}
