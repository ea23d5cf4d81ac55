# expect: 3:12 `python` "no-such-venv/bin/python" does not exist (resolved to
kernel "py_kernel" {
  python = "no-such-venv/bin/python"
}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
