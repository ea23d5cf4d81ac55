WORD = "helper"
