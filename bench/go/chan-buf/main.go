// chan-buf: 4 producers each send 2,500,000 ints into one channel of capacity 128;
// 4 consumers sum what they receive. Producer p sends p*2500000 .. p*2500000+2499999, so
// check = 0+1+...+9999999 = 49999995000000. ns_per_op is per item.
package main

import (
	"sync"
	"sync/atomic"
	"time"

	"gort-bench/internal/report"
)

const (
	producers   = 4
	consumers   = 4
	perProducer = 2500000
	capacity    = 128
)

func main() {
	ch := make(chan int64, capacity)
	var prodWG, consWG sync.WaitGroup
	var total atomic.Int64

	t0 := time.Now()
	prodWG.Add(producers)
	for p := 0; p < producers; p++ {
		go func(base int64) {
			defer prodWG.Done()
			for i := int64(0); i < perProducer; i++ {
				ch <- base + i
			}
		}(int64(p) * perProducer)
	}
	consWG.Add(consumers)
	for c := 0; c < consumers; c++ {
		go func() {
			defer consWG.Done()
			var local int64
			for v := range ch {
				local += v
			}
			total.Add(local)
		}()
	}
	prodWG.Wait()
	close(ch)
	consWG.Wait()
	elapsed := time.Since(t0)

	report.Print("chan-buf", elapsed, producers*perProducer, total.Load())
}
