# expect: 4:3 sets both `kernel_name` and `python`: keep one
kernel "py_kernel" {
  kernel_name = "python3"
  python      = "/usr/bin/python3"
}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
