# expect: 2:8 kernel name "py kernel" is not a Python identifier
kernel "py kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
