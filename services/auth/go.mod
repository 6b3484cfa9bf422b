module simplemessenger/services/auth

go 1.26.8

require simplemessenger/platform v0.0.0

replace simplemessenger/platform => ../../pkg/platform
