# expect: 9:5 app "web" gives both `app_class` and `main`: keep one entry point
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "server.App"
    main      = "server.main"
  }
}
