package testutil

import (
	"log/slog"
	"os"
)

// Logger is the logger the tests give servers: silent, or everything down
// to debug on stderr when SCOPECAST_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("SCOPECAST_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
