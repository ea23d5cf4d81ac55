# expect: 7:3 app "web" needs one of `app_class = "my_module.app.ExampleApp"`, `main = "my_module.main"` or `script = "server.py"`
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    argv = ["--port=8888"]
  }
}
