// syncmap: 1,000 int64 keys preloaded (k -> k); GOMAXPROCS goroutines do 10,000,000 ops in
// all, 99% Load / 1% Store (a store writes k -> k). Goroutine t draws keys from its own LCG
// seeded with t+1: x = x*6364136223846793005 + 1442695040888963407, r = x>>33, key = r%1000,
// and the op is a Store when (r>>10)%100 == 0. check = sum of every loaded value.
// IMPL=mutex | rwmutex swap sync.Map for a map guarded by sync.Mutex / sync.RWMutex.
// ns_per_op = elapsed / 10,000,000 (wall time of all goroutines together).
package main

import (
	"os"
	"runtime"
	"sync"
	"time"

	"gort-bench/internal/report"
)

const (
	totalOps = 10000000
	numKeys  = 1000
)

type kv interface {
	load(k int64) (int64, bool)
	store(k, v int64)
}

type syncMap struct{ m sync.Map }

func (s *syncMap) load(k int64) (int64, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int64), true
}

func (s *syncMap) store(k, v int64) { s.m.Store(k, v) }

type mutexMap struct {
	mu sync.Mutex
	m  map[int64]int64
}

func (s *mutexMap) load(k int64) (int64, bool) {
	s.mu.Lock()
	v, ok := s.m[k]
	s.mu.Unlock()
	return v, ok
}

func (s *mutexMap) store(k, v int64) {
	s.mu.Lock()
	s.m[k] = v
	s.mu.Unlock()
}

type rwMutexMap struct {
	mu sync.RWMutex
	m  map[int64]int64
}

func (s *rwMutexMap) load(k int64) (int64, bool) {
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

func (s *rwMutexMap) store(k, v int64) {
	s.mu.Lock()
	s.m[k] = v
	s.mu.Unlock()
}

func main() {
	variant := os.Getenv("IMPL")
	var m kv
	switch variant {
	case "mutex":
		m = &mutexMap{m: map[int64]int64{}}
	case "rwmutex":
		m = &rwMutexMap{m: map[int64]int64{}}
	default:
		variant = "syncmap"
		m = &syncMap{}
	}
	for k := int64(0); k < numKeys; k++ {
		m.store(k, k)
	}

	procs := runtime.GOMAXPROCS(0)
	sums := make([]int64, procs*8) // one cache line apart
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(procs)
	for t := 0; t < procs; t++ {
		go func(t int) {
			defer wg.Done()
			x := uint64(t + 1)
			var sum int64
			for i := 0; i < totalOps/procs; i++ {
				x = x*6364136223846793005 + 1442695040888963407
				r := x >> 33
				k := int64(r % numKeys)
				if (r>>10)%100 == 0 {
					m.store(k, k)
				} else if v, ok := m.load(k); ok {
					sum += v
				}
			}
			sums[t*8] = sum
		}(t)
	}
	wg.Wait()
	elapsed := time.Since(t0)

	var check int64
	for t := 0; t < procs; t++ {
		check += sums[t*8]
	}
	report.Print("syncmap", elapsed, totalOps, check,
		report.F("variant", variant), report.F("threads", procs))
}
