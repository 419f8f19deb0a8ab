//go:build unix

package rsacrypto

import (
	"syscall"
	"testing"
)

// reportCPU starts counting the process's CPU time (user and system, all
// threads); the function it returns reports it as cpu-ns/op. On a shared,
// busy machine the CPU time an operation takes varies much less than its
// wall time, which counts the time other processes held the core.
func reportCPU(b *testing.B) (stop func()) {
	start := processCPUTime()
	return func() {
		b.ReportMetric(float64(processCPUTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPUTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
