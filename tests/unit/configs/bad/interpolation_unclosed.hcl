# expect: 5:13 is never closed
kernel "py_kernel" {}

job "lint" {
  command = "flake8 ${var.dir"
}
