# expect: 4:1 an `app` block takes exactly one name in quotes, found 0
kernel "py_kernel" {}

app {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
}
