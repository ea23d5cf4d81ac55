# expect: 5:13 unknown function `exe` (did you mean `exec`?)
kernel "py_kernel" {}

process "frontend" {
  command = "yarn start --commit=${exe('git rev-parse HEAD') | trim}"
}
