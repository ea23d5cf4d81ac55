# expect: 5:12 `class` must be a dotted path
kernel "py_kernel" {}

app "web" {
  class  = "TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
