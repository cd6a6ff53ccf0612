package testapp

import (
	"runtime"
	"sync/atomic"
	"time"
)

// PeakHeapGrowth runs fn while sampling the live heap and returns how far
// it rose above the heap in use before fn (for benchmarks' memory figures).
func PeakHeapGrowth(fn func()) uint64 {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	<-sampled
	if p := peak.Load(); p > before.HeapAlloc {
		return p - before.HeapAlloc
	}
	return 0
}
