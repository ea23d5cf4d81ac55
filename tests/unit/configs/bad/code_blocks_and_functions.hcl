# expect: 11:9 `code_blocks` and `functions` are the same setting
kernel "py_kernel" {}

app "watch" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = [
      {
        code_blocks = ["web.restart()"]
        functions   = ["web.restart()"]
      },
    ]
  }
}
