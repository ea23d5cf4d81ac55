# expect: 11:62 code block 2 of handler 1 of app "watch" does not compile
kernel "py_kernel" {}

app "watch" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {
    handlers = [
      {
        code_blocks = [
          "web.handle_watchdog_event({event})", "web.restart(("
        ]
      },
    ]
  }
}
