module simplemessenger/e2e

go 1.26.8
