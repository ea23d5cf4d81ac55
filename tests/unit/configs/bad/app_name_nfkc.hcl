# expect: 5:5 app name "ﬁx" is not how Python spells it: Python reads it as "fix" (NFKC), so the kernel would know it by another name: rename it "fix"
# The name starts with the ligature U+FB01: Python reads the identifier as `fix`.
kernel "py_kernel" {}

app "ﬁx" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
