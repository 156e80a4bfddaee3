package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitForPolls(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(20 * time.Millisecond)
		n.Store(1)
	}()
	WaitFor(t, 5*time.Second, "the flag", func() bool { return n.Load() == 1 })
}

func TestNeedToolFindsAShell(t *testing.T) {
	if NeedTool(t, "sh") == "" {
		t.Fatal("no path for sh")
	}
}
