// tcp-http: a goroutine per connection; each reads request lines with a bufio.Reader until
// the blank line, then writes a fixed 200 response and keeps the connection alive. Listens
// on 127.0.0.1:PORT (default 18080). On SIGTERM/SIGINT prints the JSON line with the
// number of requests served as `check`; bench/net-load drives it with wrk and adds wrk's
// figures. Same program as bench/workloads/tcp-http.cpp.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

var response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

var served int64

func serveConn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		// One request head: lines until "\r\n" (or "\n").
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		atomic.AddInt64(&served, 1)
		if _, err := c.Write(response); err != nil {
			return
		}
	}
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "18080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(c)
		}
	}()
	<-stop
	n := atomic.LoadInt64(&served)
	fmt.Printf("{\"workload\": \"tcp-http\", \"impl\": \"go\", \"ns_per_op\": 0, \"ops\": %d, \"check\": %d}\n", n, n)
}
