# expect: 7:12 string opened here is never closed: add the closing `"`
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "web.start()
}
