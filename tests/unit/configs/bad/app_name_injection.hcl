# expect: 4:5 is not a Python identifier
kernel "py_kernel" {}

app "x\"); import os; os.system(\"true" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
