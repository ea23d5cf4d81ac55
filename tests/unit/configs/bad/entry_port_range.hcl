# expect: 9:17 `port` must be a whole number from 0 to 65535 such as `port = 8888`, not 70000
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "web.make_app"
    port      = 70000
  }
}
