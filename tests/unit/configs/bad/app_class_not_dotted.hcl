# expect: 8:17 `app_class` must be a fully qualified class name such as `my_module.app.ExampleApp`, not "Application"
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "Application"
  }
}
