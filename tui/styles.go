package tui

import (
	"github.com/charmbracelet/lipgloss"

	"shutdowntest/target"
)

// Colours say the same as the words next to them, never more: with
// NO_COLOR (lipgloss honours it) every state, PASS and FAIL still reads.
var (
	colGreen  = lipgloss.AdaptiveColor{Light: "#007a3d", Dark: "#3ddc84"}
	colRed    = lipgloss.AdaptiveColor{Light: "#c0162b", Dark: "#ff5f6d"}
	colYellow = lipgloss.AdaptiveColor{Light: "#8a6d00", Dark: "#ffd75f"}
	colBlue   = lipgloss.AdaptiveColor{Light: "#1f5fbf", Dark: "#7fb4ff"}
	colDim    = lipgloss.AdaptiveColor{Light: "#8a8a8a", Dark: "#6c6c6c"}
	colBorder = lipgloss.AdaptiveColor{Light: "#b0b0b0", Dark: "#4e4e4e"}
)

var (
	stPlain    = lipgloss.NewStyle()
	stTitle    = lipgloss.NewStyle().Bold(true)
	stDim      = lipgloss.NewStyle().Foreground(colDim)
	stGood     = lipgloss.NewStyle().Foreground(colGreen)
	stGoodBold = stGood.Bold(true)
	stBad      = lipgloss.NewStyle().Foreground(colRed)
	stBadBold  = stBad.Bold(true)
	stWarn     = lipgloss.NewStyle().Foreground(colYellow)
	stInfo     = lipgloss.NewStyle().Foreground(colBlue)
	stHeader   = lipgloss.NewStyle().Bold(true).Underline(true)
	// stSelected marks the cursor's row by reverse video, which survives
	// NO_COLOR.
	stSelected = lipgloss.NewStyle().Reverse(true)
	stPanel    = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(colBorder).Padding(0, 1)
	stPhase    = lipgloss.NewStyle().Bold(true).Reverse(true).Padding(0, 1)
)

// stateStyle is a thread state's colour: busy states yellow, waiting
// ones blue, the end dim.
func stateStyle(state target.State) lipgloss.Style {
	switch state {
	case target.StateProcess, target.StateSend, target.StateRead:
		return stWarn
	case target.StateWait, target.StateLinger:
		return stInfo
	case target.StateExited, target.StateCleanup, "":
		return stDim
	}
	return stPlain
}
