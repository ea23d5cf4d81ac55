# expect: 10:9 unknown key `pattern` in handler 1 of app "watch" (did you mean `patterns`?)
kernel "py_kernel" {}

app "watch" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = [
      {
        pattern = ["*.py"]
      },
    ]
  }
}
