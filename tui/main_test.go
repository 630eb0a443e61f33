package tui

import (
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"go.uber.org/goleak"
)

// TestMain pins the colour profile, so rendering does not depend on the
// terminal the tests run in, and checks that no goroutine outlives them.
func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	// teatest leaves one goroutine per test model waiting for a SIGINT
	// that never comes (it has no way to stop it); it is its, not ours.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/charmbracelet/x/exp/teatest.NewTestModel.func2"))
}
