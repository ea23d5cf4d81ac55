# expect: 8:17 each handler must be a block in braces
kernel "py_kernel" {}

app "watch" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = ["*.py"]
  }
}
