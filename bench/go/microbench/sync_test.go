// Go twins of bench/micro/sync_bench.cpp, run by bench/compare-micro:
//   go test -run x -bench . ./microbench
package microbench

import (
	"context"
	"sync"
	"testing"
)

func BenchmarkMutexUncontended(b *testing.B) {
	var mu sync.Mutex
	for i := 0; i < b.N; i++ {
		mu.Lock()
		mu.Unlock()
	}
}

func BenchmarkRWMutexReadUncontended(b *testing.B) {
	var rw sync.RWMutex
	for i := 0; i < b.N; i++ {
		rw.RLock()
		rw.RUnlock()
	}
}

func BenchmarkOnceDone(b *testing.B) {
	var once sync.Once
	n := 0
	for i := 0; i < b.N; i++ {
		once.Do(func() { n++ })
	}
	_ = n
}

func BenchmarkContextWithCancel(b *testing.B) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	for i := 0; i < b.N; i++ {
		_, cancel := context.WithCancel(parent)
		cancel()
	}
}

type wantedKey struct{}
type otherKey struct{}

var sink any

func BenchmarkContextValueDepth10(b *testing.B) {
	c := context.WithValue(context.Background(), wantedKey{}, 42)
	for i := 0; i < 10; i++ {
		c = context.WithValue(c, otherKey{}, i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink = c.Value(wantedKey{})
	}
}
