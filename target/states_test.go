package target

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// checkStatesListed fails t for every state a thread of rec entered that
// States does not list: the view counts threads by States, so a state
// missing there is a thread the view loses.
func checkStatesListed(t *testing.T, rec Record) {
	t.Helper()
	for _, th := range rec.Kernel.Threads {
		for _, st := range th.States {
			if !slices.Contains(States, st.State) {
				t.Errorf("thread %d (%s) entered %q, which States does not list", th.ID, th.Name, st.State)
			}
		}
	}
}

// TestEveryThreadStateIsListed runs the listener and client threads through
// their lives (an idle request, a silent connection, a held request, a
// shutdown) and holds every state any of them entered to States.
func TestEveryThreadStateIsListed(t *testing.T) {
	s := startServer(t, Config{InflightFor: 20 * time.Millisecond})
	idle := dialClient(t, s.Addr())
	idle.send(webGet("/?w=password&p="+DefaultPassword, false))
	idle.response()
	silent := dialClient(t, s.Addr())
	inflight := dialClient(t, s.Addr())
	inflight.send(restGet("/api/v1/status", true))
	waitStates(t, s, map[string]State{idle.local(): StateLinger, silent.local(): StateWait, inflight.local(): StateProcess})
	if _, ok := s.Shutdown(); !ok {
		t.Fatal("Shutdown returned ok=false")
	}
	inflight.response()
	rec := s.Close()
	var listener bool
	for _, th := range rec.Kernel.Threads {
		listener = listener || th.Name == ThreadListener && slices.ContainsFunc(th.States, func(r kernel.StateRecord) bool {
			return r.State == StateAccept
		})
	}
	if !listener {
		t.Errorf("the listener never accepted: the run did not exercise it")
	}
	checkStatesListed(t, rec)
}

// TestEnterOnlyListedStates reads the package's source: every Enter names
// a constant of the block that declares the thread states, and States
// lists every constant of that block. A state entered on a path no run
// reaches is caught here too.
func TestEnterOnlyListedStates(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared, listed, entered []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				for _, spec := range n.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for i, id := range vs.Names {
						switch {
						case n.Tok == token.CONST && isStateDecl(vs):
							declared = append(declared, id.Name)
						case n.Tok == token.VAR && id.Name == "States" && i < len(vs.Values):
							listed = append(listed, idents(vs.Values[i])...)
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Enter" && len(n.Args) == 1 {
					id, ok := n.Args[0].(*ast.Ident)
					if !ok {
						t.Errorf("%v: Enter(%s): not a named state", fset.Position(n.Pos()), types.ExprString(n.Args[0]))
						return true
					}
					entered = append(entered, id.Name)
				}
			}
			return true
		})
	}
	if len(entered) == 0 || len(declared) == 0 || len(listed) == 0 {
		t.Fatalf("found %d Enter calls, %d state constants, %d listed states: the source moved", len(entered), len(declared), len(listed))
	}
	for _, name := range entered {
		if !slices.Contains(declared, name) {
			t.Errorf("Enter(%s): not a state constant", name)
		}
	}
	for _, name := range declared {
		if !slices.Contains(listed, name) {
			t.Errorf("%s is not in States", name)
		}
	}
}

// isStateDecl reports whether vs declares thread states: typed State, or
// taken from the kernel's own states.
func isStateDecl(vs *ast.ValueSpec) bool {
	if id, ok := vs.Type.(*ast.Ident); ok {
		return id.Name == "State"
	}
	for _, v := range vs.Values {
		if sel, ok := v.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "State") {
			return true
		}
	}
	return false
}

// idents are the names a composite literal lists.
func idents(e ast.Expr) []string {
	var out []string
	if cl, ok := e.(*ast.CompositeLit); ok {
		for _, el := range cl.Elts {
			if id, ok := el.(*ast.Ident); ok {
				out = append(out, id.Name)
			}
		}
	}
	return out
}
