# expect: 7:3 `kernel` is set twice in the same block (first at line 6)
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
