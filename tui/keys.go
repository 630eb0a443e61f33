package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every binding the view has; which are enabled follows the
// run's phase (setKeys), so the footer only offers what works now.
type keyMap struct {
	Shutdown key.Binding
	More     key.Binding
	Fewer    key.Binding
	Policy   key.Binding
	Fault    key.Binding
	Rerun    key.Binding
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Filter   key.Binding
	Help     key.Binding
	Quit     key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Shutdown: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "shut down")),
		More:     key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "clients")),
		Fewer:    key.NewBinding(key.WithKeys("-", "_"), key.WithHelp("-", "one client fewer")),
		Policy:   key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "policy")),
		Fault:    key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "fault")),
		Rerun:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rerun")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑↓", "scroll")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("PgUp PgDn", "page")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", " "), key.WithHelp("PgDn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("Home End", "first, last row")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("End", "last row")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer line. Down, PgDn and End are shown with their
// pairs, so they are left out here.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Shutdown, k.More, k.Policy, k.Fault, k.Rerun, k.Up, k.Filter, k.Help, k.Quit}
}

// FullHelp is what ? shows: two columns, so it fits 80 columns.
func (k keyMap) FullHelp() [][]key.Binding {
	with := func(b key.Binding, keys, desc string) key.Binding {
		b.SetHelp(keys, desc)
		return b
	}
	return [][]key.Binding{
		{
			with(k.Shutdown, "s", "shut down now"),
			with(k.More, "+", "one client more like the row"),
			with(k.Fewer, "-", "one fewer (not in-flight)"),
			with(k.Policy, "p", "choose policy, start again"),
			with(k.Fault, "f", "choose fault, start again"),
			with(k.Rerun, "r", "run again"),
			with(k.Quit, "q", "stop: verdict, quit; twice: now"),
		},
		{k.Up, k.PageUp, k.Top, k.Filter, with(k.Help, "?", "close help")},
	}
}
