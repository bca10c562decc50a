// echo-idle: resident memory of a server holding 10,000 idle connections. The server
// accepts 10,000 connections from a client process (this program re-run with
// ECHO_IDLE_CLIENT=<port>), starts a goroutine per connection that blocks reading into a
// 512-byte buffer, waits 200 ms once all are in, and reads its own VmRSS. check =
// connections held (10000); extra fields rss_kb and total_ms; ns_per_op is accept-and-spawn
// time per connection. Same procedure as bench/workloads/echo-idle.cpp.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gort-bench/internal/report"
)

const conns = 10000

func vmRSSKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(s.Text())[1], 10, 64)
			return v
		}
	}
	return -1
}

func client(port string) {
	var held []net.Conn
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo-idle client:", err)
			os.Exit(1)
		}
		held = append(held, c)
	}
	select {}
}

func main() {
	if p := os.Getenv("ECHO_IDLE_CLIENT"); p != "" {
		client(p)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "ECHO_IDLE_CLIENT="+port)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t0 := time.Now()
	var reading int64
	for i := 0; i < conns; i++ {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			cmd.Process.Kill()
			os.Exit(1)
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 512)
			atomic.AddInt64(&reading, 1)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}(c)
	}
	acceptTime := time.Since(t0)
	for atomic.LoadInt64(&reading) < conns {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	rss := vmRSSKB()
	total := time.Since(t0)
	cmd.Process.Kill()
	cmd.Wait()
	report.Print("echo-idle", acceptTime, conns, atomic.LoadInt64(&reading),
		report.F("rss_kb", rss), report.F("total_ms", total.Milliseconds()))
}
