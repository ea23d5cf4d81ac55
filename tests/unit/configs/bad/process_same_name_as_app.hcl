# expect: 11:9 process "web" has the same name as app "web" at line 3
kernel "py_kernel" {}
app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}

process "web" {
  command = "yarn start"
}
