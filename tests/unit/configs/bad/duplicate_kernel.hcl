# expect: 3:8 kernel "py_kernel" is defined twice (first at line 2)
kernel "py_kernel" {}
kernel "py_kernel" { kernel_name = "python3" }

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
