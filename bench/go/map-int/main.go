// map-int: map[int64]int64 — insert 1,000,000 keys (a permutation of 0..N-1 drawn from a
// full-period LCG mod 2^20), 1,000,000 lookups that hit, 1,000,000 that miss (keys N+perm[i]),
// a range summing the values, then delete every key. The value of key k is k. PRESIZE=1 gives
// make a size hint of N. check = hits' sum + range sum + misses found + len after insert +
// len at the end = 10^12. The Go counterpart of bench/workloads/map-int.cpp.
package main

import (
	"os"
	"time"

	"gort-bench/internal/report"
)

const n = 1000000

func perm() []int64 {
	out := make([]int64, 0, n)
	for x := uint32(12345); len(out) < n; {
		x = (x*1664525 + 1013904223) & (1<<20 - 1)
		if x < n {
			out = append(out, int64(x))
		}
	}
	return out
}

func main() {
	presize := os.Getenv("PRESIZE") == "1"
	keys := perm()
	miss := make([]int64, n)
	for i, k := range keys {
		miss[i] = n + k
	}
	var t [6]time.Time
	t[0] = time.Now()
	hint := 0
	if presize {
		hint = n
	}
	m := make(map[int64]int64, hint)
	for _, k := range keys {
		m[k] = k
	}
	t[1] = time.Now()
	size := int64(len(m))
	var hits int64
	for _, k := range keys {
		if v, ok := m[k]; ok {
			hits += v
		}
	}
	t[2] = time.Now()
	var found int64
	for _, k := range miss {
		if _, ok := m[k]; ok {
			found++
		}
	}
	t[3] = time.Now()
	var sum int64
	for _, v := range m {
		sum += v
	}
	t[4] = time.Now()
	for _, k := range keys {
		delete(m, k)
	}
	t[5] = time.Now()
	phase := func(i int) float64 { return float64(t[i+1].Sub(t[i]).Nanoseconds()) / n }
	check := hits + sum + found + size + int64(len(m))
	report.Print("map-int", t[5].Sub(t[0]), 5*n, check,
		report.F("insert_ns", phase(0)), report.F("hit_ns", phase(1)), report.F("miss_ns", phase(2)),
		report.F("iter_ns", phase(3)), report.F("delete_ns", phase(4)), report.F("total_ms", report.Ms(t[5].Sub(t[0]))))
}
