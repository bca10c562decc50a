// spinwait: with GOMAXPROCS=1, main starts a goroutine that sets a flag and then spins on
// that flag with no function call in the loop, 20 rounds with a 5 ms sleep between them.
// Go 1.14+ preempts the spinning main with a signal; gort lends a stand-in processor
// (docs/preemption.md). ns_per_op is the mean wait per round, from the go statement to
// the end of the spin; check = the rounds completed (20).
// Extra fields: wait_p50_us, wait_max_us.
package main

import (
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"gort-bench/internal/report"
)

const rounds = 20

func main() {
	runtime.GOMAXPROCS(1)
	var total time.Duration
	waits := make([]time.Duration, 0, rounds)
	for r := 0; r < rounds; r++ {
		var ran int32
		t0 := time.Now()
		go func() { atomic.StoreInt32(&ran, 1) }()
		for atomic.LoadInt32(&ran) == 0 {
		}
		w := time.Since(t0)
		waits = append(waits, w)
		total += w
		time.Sleep(5 * time.Millisecond)
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	report.Print("spinwait", total, rounds, int64(len(waits)),
		report.F("wait_p50_us", float64(waits[rounds/2].Nanoseconds())/1e3),
		report.F("wait_max_us", float64(waits[rounds-1].Nanoseconds())/1e3))
}
