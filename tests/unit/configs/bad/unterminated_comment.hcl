# expect: 3:1 comment opened here with `/*` is never closed
kernel "py_kernel" {}
/* the app below is commented out
app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
}
