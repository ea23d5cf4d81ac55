# expect: 6:12 uses kernel "py_kernl", which is not defined (did you mean `py_kernel`?): add `kernel "py_kernl" {}`
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernl"
  options {
    app_class = "myproj.app.Application"
  }
}
