# expect: 8:14 `main` must name a function such as `my_module.main` or `my_module:main`, not "main()"
kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    main   = "main()"
  }
}
