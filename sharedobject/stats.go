package sharedobject

import "sync/atomic"

// Counters of every shared object in the process, for metrics.
var (
	batchesCommitted atomic.Uint64
	eventsCommitted  atomic.Uint64
)

// Stats are process-wide shared-object counters.
type Stats struct {
	Batches uint64 // committed batches (one delivery each)
	Events  uint64 // events in them: attribute changes, removes, clears and sends
}

// ProcessStats returns the counters of every shared object in the process.
func ProcessStats() Stats {
	return Stats{Batches: batchesCommitted.Load(), Events: eventsCommitted.Load()}
}

// countBatch counts one committed batch of n events.
func countBatch(n int) {
	batchesCommitted.Add(1)
	eventsCommitted.Add(uint64(n))
}
