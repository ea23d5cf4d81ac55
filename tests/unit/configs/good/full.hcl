# Everything tornado-launcher reads, in one file.
logger {
  level          = "warn"
  suppress_regex = ["^\\s*$"]
  replace_regex  = [
    { from = "^([45]\\d{2}) ", to = "\033[31m\\1\033[0m " },
  ]
}

kernel "py_kernel" {
  kernel_name = "python3"
  pass_env    = ["PATH", "HOME"]
}

kernel "venv_kernel" {
  python = "venv/bin/python"
}

app "web" {
  class    = "tornado_launcher.bridge.TornadoBridgeApp"
  kernel   = "py_kernel"
  disabled = false
  start    = <<EOF
web.start()
print("started")
EOF

  logger {
    level = "DEBUG"
  }

  options {
    app_class   = "myproj.app.Application"
    args        = ["--port=8888", "--debug=no"]
    threaded    = "1"
    clear_cache = ["myproj", "myproj.app"]
  }
}

app "watcher" {
  class  = "tornado_launcher.bridge.WatchdogApp"
  kernel = "venv_kernel"

  options {
    handlers = [
      {
        watch_path         = "src"
        patterns           = ["*.py", "*.html"]
        ignore_patterns    = ["*/tests/*"]
        ignore_directories = true
        case_sensitive     = true
        clear_cache        = []
        code_blocks        = ["web.handle_watchdog_event({event})"]
        debounce           = 0.2
      },
      {
        patterns = ["*.css"]
        throttle = 1
      },
    ]
  }
}

app "custom" {
  class  = "myproj.bridge.MyBridge"
  kernel = "py_kernel"

  options {
    app_class = "myproj.app.Other"
    greeting  = "extra keys go to the custom class"
  }
}
