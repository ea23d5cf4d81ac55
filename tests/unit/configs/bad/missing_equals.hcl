# expect: 6:12 expected `=` after `kernel`, found the string "py_kernel"
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel   "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
