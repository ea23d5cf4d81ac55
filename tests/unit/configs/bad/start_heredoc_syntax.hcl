# expect: 10:9 the `start` code of app "web" does not compile
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = <<EOF
import logging
web.start()
if True print("no colon")
EOF
  options {
    app_class = "myproj.app.Application"
  }
}
