module simplemessenger/bench

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/go-sql-driver/mysql v1.10.1
	simplemessenger/e2e v0.0.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/rabbitmq/amqp091-go v1.16.0 // indirect
)

replace simplemessenger/e2e => ../e2e
replace simplemessenger/platform => ../pkg/platform
