# expect: 9:20 `watch_path` "no-such-dir" does not exist (resolved to
kernel "py_kernel" {}

app "watcher" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = [{
      watch_path = "no-such-dir"
      patterns   = ["*.py"]
    }]
  }
}
