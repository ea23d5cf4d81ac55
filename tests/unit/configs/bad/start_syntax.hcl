# expect: 7:31 the `start` code of app "web" does not compile: '(' was never closed
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "web.start(); print(1"
  options {
    app_class = "myproj.app.Application"
  }
}
