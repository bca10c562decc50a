// mutex: 8 goroutines each do 1,000,000 Lock / increment / Unlock on one shared counter.
// check = final counter value (8000000). ns_per_op is per Lock/Unlock pair.
package main

import (
	"sync"
	"time"

	"gort-bench/internal/report"
)

const (
	workers   = 8
	perWorker = 1000000
)

func main() {
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup

	t0 := time.Now()
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)

	report.Print("mutex", elapsed, workers*perWorker, counter)
}
