# expect: 6:3 unknown key `kernelname` in kernel "py_kernel" (did you mean `kernel_name`?)
# expect: 10:12 uses kernel "other", which is not defined
# expect: 13:16 `threaded` must be true or false, not 3
# expect: 15:12 unknown key `colour`
kernel "py_kernel" {
  kernelname = "python3"
}
app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "other"
  options {
    app_class = "myproj.app.Application"
    threaded = 3
  }
  logger { colour = "red" }
}
