// What Jaffle users run: a Tornado backend, a front-end dev server beside it,
// colored logs, options switched by variables.
variable "threaded" {
  default = false
}

variable "api_port" {
  default = 9999
}

variable "node_env" {
  default = "development"
}

kernel "py_kernel" {}

app "api" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "api.start()"

  logger {
    level          = "info"
    suppress_regex = ["^\\s*$"]
    replace_regex = [
      {
        from = "^(\\d{3}) "
        to   = "${fg('green')}\\1${reset()} "
      },
    ]
  }

  options {
    app_class = "myproj.app.Application"
    argv      = ["--port=${var.api_port}"]
    threaded  = "${var.threaded}"
  }
}

process "frontend" {
  command = "yarn start --api http://localhost:${var.api_port}"
  tty     = true

  env = {
    NODE_ENV = "${var.node_env}"
    PORT     = 3000
    HOME_DIR = "${env('HOME', '/tmp')}"
  }

  logger {
    suppress_regex = ["webpack: Compiling"]
  }
}

job "lint" {
  command = "flake8 myproj"
}

logger {
  level = "warn"
  replace_regex = [
    { from = "ERROR", to = "${fg('bright_red')}${bg(52)}ERROR${reset()}" },
  ]
}
