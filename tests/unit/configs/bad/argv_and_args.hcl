# expect: 10:5 `argv` and `args` are the same setting
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    argv      = ["--port=8888"]
    args      = ["--port=9999"]
  }
}
