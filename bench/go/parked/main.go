// parked: 1,000,000 goroutines blocked at once. Each signals a wait group, then blocks
// receiving from one shared channel. Once all have signalled (plus a 100 ms settle so the
// last ones reach the receive), main reads VmRSS, closes the channel and waits for all.
// Extra fields: rss_kb (at the parked moment), total_ms. check = goroutines finished.
package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gort-bench/internal/report"
)

const goroutines = 1000000

// vmRSSKB returns the VmRSS line of /proc/self/status in KiB, or -1.
func vmRSSKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return -1
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return -1
		}
		return kb
	}
	return -1
}

func main() {
	var running, finished sync.WaitGroup
	var count atomic.Int64
	release := make(chan struct{})

	t0 := time.Now()
	running.Add(goroutines)
	finished.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func() {
			running.Done()
			<-release
			count.Add(1)
			finished.Done()
		}()
	}
	running.Wait()
	time.Sleep(100 * time.Millisecond)
	rss := vmRSSKB()
	close(release)
	finished.Wait()
	elapsed := time.Since(t0)

	report.Print("parked", elapsed, goroutines, count.Load(),
		report.F("rss_kb", rss),
		report.F("total_ms", report.Ms(elapsed)))
}
