# expect: 9:5 `address` goes with `port`
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "web.make_app"
    address   = "0.0.0.0"
  }
}
