module shutdowntest

go 1.26.8

require (
	github.com/gorilla/websocket v1.5.3
	go.uber.org/goleak v1.3.0
)

require github.com/spf13/pflag v1.1.0 // indirect
