# expect: 4:5 app name "class" is a Python keyword (the name becomes a variable in the kernel): rename it, e.g. "class_"
kernel "py_kernel" {}

app "class" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
