// echo: TCP ping-pong over loopback. An echo server (a goroutine per connection, 512-byte
// reads written straight back) and 100 client goroutines, each with its own connection,
// sending 5,000 messages of 512 bytes one at a time and reading each echo in full before
// the next. check = bytes echoed back = 100 * 5000 * 512 = 256000000; ns_per_op is per
// message round trip; extra field msgs_per_s. Same program as bench/workloads/echo.cpp.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gort-bench/internal/report"
)

const (
	conns = 100
	msgs  = 5000
	size  = 512
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, size)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	addr := ln.Addr().String()
	var echoed, bad int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				atomic.AddInt64(&bad, 1)
				return
			}
			defer c.Close()
			out := make([]byte, size)
			in := make([]byte, size)
			var total int64
			for k := 0; k < msgs; k++ {
				for j := range out {
					out[j] = byte('a' + (i+k)%26)
				}
				if _, err := c.Write(out); err != nil {
					atomic.AddInt64(&bad, 1)
					return
				}
				if _, err := io.ReadFull(c, in); err != nil || !bytes.Equal(in, out) {
					atomic.AddInt64(&bad, 1)
					return
				}
				total += size
			}
			atomic.AddInt64(&echoed, total)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(t0)
	ln.Close()
	ops := int64(conns * msgs)
	check := echoed
	if bad != 0 {
		check = -1
	}
	report.Print("echo", elapsed, ops, check,
		report.F("msgs_per_s", float64(ops)/elapsed.Seconds()))
}
