# expect: 4:5 app name "my-web" is not a Python identifier (the name becomes a variable in the kernel): rename it, e.g. "my_web"
kernel "py_kernel" {}

app "my-web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
