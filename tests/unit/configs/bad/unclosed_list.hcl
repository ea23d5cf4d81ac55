# expect: 9:12 list opened here with `[` is never closed
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    argv = ["--port=8888"
  }
}
