package reports

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that nothing a test started outlives it: the clean soak
// test runs the real engine.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
