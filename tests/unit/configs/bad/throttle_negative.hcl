# expect: 10:20 `throttle` must be a number of seconds >= 0
kernel "py_kernel" {}

app "watch" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = [
      {
        throttle = -0.5
      },
    ]
  }
}
