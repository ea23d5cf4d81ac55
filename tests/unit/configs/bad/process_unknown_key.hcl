# expect: 4:3 unknown key `envv` in process "frontend" (did you mean `env`?)
process "frontend" {
  command    = "yarn start"
  envv       = { NODE_ENV = "development" }
}
