# expect: 7:11 block `options` opened here is never closed: add `}` (the `}` at line 9 is indented like an outer block's)
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
}
