# expect: 5:9 process "frontend" needs `command = "yarn start"`
kernel "py_kernel" {}

// a Jaffle front-end beside the backend, without its command
process "frontend" {
  tty = true
}
