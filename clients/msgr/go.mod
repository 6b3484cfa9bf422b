module simplemessenger/clients/msgr

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/spf13/cobra v1.10.2
	golang.org/x/term v0.47.0
	simplemessenger/e2e v0.0.0-00010101000000-000000000000
	simplemessenger/platform v0.0.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/go-sql-driver/mysql v1.10.1 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/rabbitmq/amqp091-go v1.16.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace simplemessenger/e2e => ../../e2e
replace simplemessenger/platform => ../../pkg/platform
