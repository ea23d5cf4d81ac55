# expect: 6:19 `LAUNCHER_CORPUS_UNSET_NAME` is not a set environment variable nor a function
kernel "py_kernel" {}

process "frontend" {
  command = "yarn start"
  env     = { A = "${LAUNCHER_CORPUS_UNSET_NAME}" }
}
