# expect: 9:23 this list cannot be read: pyhcl accepts no true/false in a list, nor a number after a string; write the value in quotes, e.g. "8888"
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    argv = ["--port", 8888]
  }
}
