# expect: 9:17 `threaded` must be true or false, not "yes"
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    threaded  = "yes"
  }
}
