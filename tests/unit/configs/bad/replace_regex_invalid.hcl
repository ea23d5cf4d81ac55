# expect: 9:32 `to` "\3" is not a valid replacement: invalid group reference 3
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  logger {
    replace_regex = [
      { from = "^(\\d+)", to = "\\3" },
    ]
  }
  options {
    app_class = "myproj.app.Application"
  }
}
