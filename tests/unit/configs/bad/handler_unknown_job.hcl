# expect: 11:21 runs job "lnt", which is not defined (did you mean `lint`?)
kernel "py_kernel" {}

app "watcher" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = [
      {
        patterns = ["*.py"]
        jobs     = ["lnt"]
      },
    ]
  }
}

job "lint" {
  command = "flake8"
}
