# expect: 9:5 `port` is for an `app_class` that is a tornado.web.Application (or a function returning one): a `main` or `script` listens itself
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    main = "server:main"
    port = 8888
  }
}
