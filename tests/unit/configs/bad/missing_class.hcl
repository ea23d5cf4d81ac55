# expect: 4:5 app "web" needs `class =
kernel "py_kernel" {}

app "web" {
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
