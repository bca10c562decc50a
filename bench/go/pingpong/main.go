// pingpong: two goroutines, two unbuffered channels, 1,000,000 round trips.
// Main sends i on ping; the partner replies i+1 on pong; main sums the replies, so
// check = 1+2+...+1000000 = 500000500000. Run with GOMAXPROCS=1 and =2.
// Extra field: threads (the GOMAXPROCS in effect). ns_per_op is per round trip.
package main

import (
	"runtime"
	"time"

	"gort-bench/internal/report"
)

const trips = 1000000

func main() {
	ping := make(chan int64)
	pong := make(chan int64)
	partnerDone := make(chan struct{})

	t0 := time.Now()
	go func() {
		for i := 0; i < trips; i++ {
			v := <-ping
			pong <- v + 1
		}
		close(partnerDone)
	}()
	var sum int64
	for i := int64(0); i < trips; i++ {
		ping <- i
		sum += <-pong
	}
	<-partnerDone
	elapsed := time.Since(t0)

	report.Print("pingpong", elapsed, trips, sum,
		report.F("threads", runtime.GOMAXPROCS(0)))
}
