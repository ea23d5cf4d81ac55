# expect: 9:17 `${var.threded}` uses variable `threded`, which is not defined
variable "threaded" { default = true }
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    threaded  = "${var.threded}"
    app_class = "myproj.app.Application"
  }
}
