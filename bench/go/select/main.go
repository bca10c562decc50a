// select: 4 producers, each sending 1,000,000 values on its own unbuffered channel;
// one consumer (main) receives all 4,000,000 with a select over the 4 channels.
// Producer p sends p*1000000 .. p*1000000+999999, so check = 0+...+3999999 = 7999998000000.
// ns_per_op is per select.
package main

import (
	"time"

	"gort-bench/internal/report"
)

const (
	producers   = 4
	perProducer = 1000000
)

func main() {
	var chs [producers]chan int64
	for i := range chs {
		chs[i] = make(chan int64)
	}

	t0 := time.Now()
	for p := 0; p < producers; p++ {
		go func(out chan<- int64, base int64) {
			for i := int64(0); i < perProducer; i++ {
				out <- base + i
			}
		}(chs[p], int64(p)*perProducer)
	}
	var sum int64
	for n := 0; n < producers*perProducer; n++ {
		var v int64
		select {
		case v = <-chs[0]:
		case v = <-chs[1]:
		case v = <-chs[2]:
		case v = <-chs[3]:
		}
		sum += v
	}
	elapsed := time.Since(t0)

	report.Print("select", elapsed, producers*perProducer, sum)
}
