# expect: 4:5 app "web" needs `kernel = "py_kernel"`
kernel "py_kernel" {}

app "web" {
  class = "jaffle.app.tornado.TornadoBridgeApp"
  options {
    app_class = "myproj.app.Application"
  }
}
