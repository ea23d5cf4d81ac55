// A Jaffle file with parts tornado-launcher skips: they warn, the rest runs.
variable "threaded" {
  default = true
}

variable "port" {
  default = 9999
}

variable "level" {
  default = "debug"
}

kernel "py_kernel" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "web.start()"

  logger {
    level = "${var.level}"
    name  = "web"
  }

  options {
    app_class = "myproj.app.Application"
    argv      = ["--port=${var.port}"]
    threaded  = "${var.threaded}"
  }
}

app "tests" {
  class  = "jaffle.app.pytest.PyTestRunnerApp"
  kernel = "py_kernel"

  options {
    args = ["-s", "-v"]

    auto_test_map {
      "myproj/**/*.py" = "myproj/tests/{}/test_{}.py"
    }
  }
}

process "frontend" {
  command  = "yarn start"
  tty      = true
}

job "lint" {
  command = "flake8"
}
