# expect: 9:17 `argv` must be a list of strings, not "--port=8888": write `argv = ["--port=8888"]`
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    argv      = "--port=8888"
  }
}
