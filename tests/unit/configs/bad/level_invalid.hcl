# expect: 2:18 `level` must be one of debug, info, warning, error, critical, not "verbose"
logger { level = "verbose" }
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
