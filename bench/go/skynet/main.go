// skynet: a 10-ary tree of goroutines with 1,000,000 leaves (1,111,111 goroutines).
// Each leaf sends its ordinal on its parent's unbuffered channel; each inner node sums
// its 10 children and sends the sum up. check = 0+1+...+999999 = 499999500000.
// Extra field: total_ms. ns_per_op is per goroutine.
package main

import (
	"time"

	"gort-bench/internal/report"
)

const (
	leaves     = 1000000
	fanout     = 10
	goroutines = 1111111
)

// node covers the ordinals [first, first+size) and sends their sum on out.
func node(out chan<- int64, first, size int64) {
	if size == 1 {
		out <- first
		return
	}
	children := make(chan int64)
	step := size / fanout
	for i := int64(0); i < fanout; i++ {
		go node(children, first+i*step, step)
	}
	var sum int64
	for i := 0; i < fanout; i++ {
		sum += <-children
	}
	out <- sum
}

func main() {
	root := make(chan int64)

	t0 := time.Now()
	go node(root, 0, leaves)
	sum := <-root
	elapsed := time.Since(t0)

	report.Print("skynet", elapsed, goroutines, sum,
		report.F("total_ms", report.Ms(elapsed)))
}
