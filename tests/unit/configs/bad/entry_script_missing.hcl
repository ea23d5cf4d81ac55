# expect: 8:14 `script` "no_such_server.py" does not exist
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    script = "no_such_server.py"
  }
}
