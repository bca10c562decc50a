// timers: 100,000 goroutines; goroutine i sleeps 10 times for (1 + i%10) ms each.
// Every sleep's oversleep (actual - requested) is recorded. Extra fields: total_ms
// (ideal_ms = 100 for the longest sleeper), oversleep_p50_us / _p99_us / _max_us.
// check = number of sleeps completed (1000000).
package main

import (
	"sort"
	"sync"
	"time"

	"gort-bench/internal/report"
)

const (
	goroutines = 100000
	sleeps     = 10
)

func main() {
	over := make([]time.Duration, goroutines*sleeps)
	var wg sync.WaitGroup

	t0 := time.Now()
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func(i int) {
			defer wg.Done()
			want := time.Duration(1+i%10) * time.Millisecond
			for k := 0; k < sleeps; k++ {
				s := time.Now()
				time.Sleep(want)
				over[i*sleeps+k] = time.Since(s) - want
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(t0)

	sort.Slice(over, func(a, b int) bool { return over[a] < over[b] })
	// pct returns the p-quantile (0..1) of the sorted samples in microseconds.
	pct := func(p float64) float64 {
		i := int(p * float64(len(over)))
		if i >= len(over) {
			i = len(over) - 1
		}
		return float64(over[i].Nanoseconds()) / 1e3
	}

	report.Print("timers", elapsed, goroutines*sleeps, int64(len(over)),
		report.F("total_ms", report.Ms(elapsed)),
		report.F("ideal_ms", 100),
		report.F("oversleep_p50_us", pct(0.50)),
		report.F("oversleep_p99_us", pct(0.99)),
		report.F("oversleep_max_us", pct(1.0)))
}
