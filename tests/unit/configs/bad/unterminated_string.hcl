# expect: 5:12 string opened here runs on to line 6: is its closing `"` missing?
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
