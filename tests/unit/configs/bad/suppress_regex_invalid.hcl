# expect: 9:33 regular expression "[unclosed" does not compile
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  logger {
    level          = "info"
    suppress_regex = ["^\\s*$", "[unclosed"]
  }
  options {
    app_class = "myproj.app.Application"
  }
}
