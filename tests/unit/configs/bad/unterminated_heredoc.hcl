# expect: 7:12 heredoc `<<EOF` opened here is never closed: end it with a line `EOF`
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = <<EOF
web.start()
  options {
    app_class = "myproj.app.Application"
  }
}
