# expect: 9:5 unknown key `treaded` in the options of app "web" (did you mean `threaded`?)
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    treaded   = true
  }
}
