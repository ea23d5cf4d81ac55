# The tornado-launcher demo: two Tornado apps in one IPython kernel, reloaded
# on save. Open it with:  tornado-launcher tornado_launcher/resources/demo/jaffle.hcl

kernel "py_kernel" {}

app "watchdog" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"

  options {
    handlers = [
      {
        patterns           = ["*.py"]
        ignore_directories = true
        code_blocks        = ["web.handle_watchdog_event({event})", "api.handle_watchdog_event({event})"]
      },
    ]
  }
}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "web.start()"

  logger {
    level = "info"
  }

  options {
    app_class   = "demo_app.app.DemoApp"
    argv        = ["--port=8765"]
    threaded    = false
    clear_cache = ["demo_app"]
  }
}

app "api" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "api.start()"

  options {
    app_class   = "demo_app.app.DemoApp"
    argv        = ["--port=8766", "--name=api"]
    threaded    = true
    clear_cache = ["demo_app"]
  }
}
