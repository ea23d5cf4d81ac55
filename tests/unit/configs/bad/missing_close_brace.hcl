# expect: 2:20 block `kernel "py_kernel"` opened here is never closed: add `}` (the `app` block at line 5 is inside it
kernel "py_kernel" {
  kernel_name = "python3"

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
