# expect: 5:21 `${` opened here is not closed with `}` on its line
kernel "py_kernel" {}

job "lint" {
  command = "flake8 ${var.dir"
}
