// spawn: start 1,000,000 goroutines that each call wg.Done(); main waits for all.
// Figure: ns per goroutine. check = number of goroutines that ran (1000000).
package main

import (
	"sync"
	"sync/atomic"
	"time"

	"gort-bench/internal/report"
)

const goroutines = 1000000

func main() {
	var wg sync.WaitGroup
	var ran atomic.Int64

	t0 := time.Now()
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func() {
			ran.Add(1)
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)

	report.Print("spawn", elapsed, goroutines, ran.Load())
}
