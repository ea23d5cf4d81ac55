# expect: 4:3 unknown key `enviroment` in process "frontend" (did you mean `env`?)
process "frontend" {
  command    = "yarn start"
  enviroment = { NODE_ENV = "development" }
}
