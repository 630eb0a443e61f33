// Command goserver is a plain Go net/http server that shuts down with
// http.Server.Shutdown on SIGTERM or SIGINT, for the external-target tests:
// a server nobody on the team wrote the shutdown of. Shutdown waits for
// requests in flight and closes idle keep-alive connections, but ignores
// hijacked ones (golang/go#17721): its WebSocket clients get close 1001
// only with -ws-going-away, which registers an OnShutdown hook that sends
// it; without, they see the process exit (1006).
//
// Routes: / (a small page, keep-alive), /api (JSON), /slow?ms=N (answers
// after N ms), /ws (a WebSocket that sends a message every 50 ms), and
// POST /admin/shutdown (starts the same shutdown as a signal).
//
// With -state-listen ADDR it exposes its state endpoint on ADDR
// (GET /state, package shutdowntest/state/nethttp).
//
// Flags that misbehave on purpose, for the process paths of the tests:
// -exit N exits with status N after a clean shutdown; -keep-running stops
// serving on the trigger but keeps the process running (a trigger that
// stops a subsystem); -serve-after-trigger D keeps accepting and serving
// for D after the trigger before it shuts down; -holder D starts a child
// that keeps the listening socket and the output open for D after the
// server has gone (a forked worker), in the server's process group, or
// with -holder-own-group in a session of its own, out of the group's
// reach. The holder prints "holder pid N" so that a test can end it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"shutdowntest/state/nethttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	goingAway := flag.Bool("ws-going-away", false, "send close 1001 to WebSocket clients on shutdown")
	exitCode := flag.Int("exit", 0, "exit status after a clean shutdown")
	deaf := flag.Bool("ignore-signals", false, "ignore SIGTERM and SIGINT (a server that never stops by itself)")
	stateListen := flag.String("state-listen", "", "serve the state endpoint (GET /state) on this address")
	keepRunning := flag.Bool("keep-running", false, "after the shutdown, keep the process running (for a minute at most)")
	serveAfter := flag.Duration("serve-after-trigger", 0, "go on accepting and serving for this long after the trigger")
	holder := flag.Duration("holder", 0, "start a child that holds the listening socket and the output for this long")
	holderOwnGroup := flag.Bool("holder-own-group", false, "start the -holder child in a session of its own")
	holdFD := flag.Bool("hold-fd", false, "internal: be the -holder child (fd 3 is the listener)")
	flag.Parse()
	if *holdFD {
		// The child's whole work is to exist: it keeps fd 3 (the
		// listener) and its inherited stdout and stderr open.
		log.Printf("holder pid %d", os.Getpid())
		time.Sleep(*holder)
		return
	}

	var mu sync.Mutex
	conns := map[*websocket.Conn]bool{}
	upgrader := websocket.Upgrader{}
	shutdown := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintln(w, "<html><title>goserver</title>hello</html>")
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"ok":true}`)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "answered after %d ms\n", ms)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
		go func() { // reads, to see the close; ends with the connection
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for {
			mu.Lock()
			err := c.WriteMessage(websocket.TextMessage, []byte("tick"))
			mu.Unlock()
			if err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	mux.HandleFunc("POST /admin/shutdown", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "shutting down")
		select {
		case shutdown <- "POST /admin/shutdown":
		default:
		}
	})
	srv := &http.Server{Handler: mux}
	if *goingAway {
		srv.RegisterOnShutdown(func() {
			mu.Lock()
			defer mu.Unlock()
			for c := range conns {
				msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
				_ = c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				c.Close()
			}
		})
	}
	// shutdown runs srv.Shutdown, through the state endpoint when there is
	// one; done publishes its final record before the process exits.
	shutdownSrv, done := srv.Shutdown, func() {}
	if *stateListen != "" {
		st := nethttp.Wrap(srv)
		sl, err := net.Listen("tcp", *stateListen)
		if err != nil {
			log.Fatal(err)
		}
		go func() { // ends with st.Close
			if err := st.Serve(sl); err != nil {
				log.Printf("state endpoint: %v", err)
			}
		}()
		shutdownSrv = st.Shutdown
		done = func() {
			if err := st.Close(); err != nil {
				log.Print(err)
			}
		}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	if *holder > 0 {
		if err := startHolder(l, *holder, *holderOwnGroup); err != nil {
			log.Fatal(err)
		}
	}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		s := <-sigs
		for *deaf {
			log.Printf("ignoring %s", s)
			s = <-sigs
		}
		shutdown <- s.String()
	}()
	go func() {
		why := <-shutdown
		if *serveAfter > 0 {
			log.Printf("serving on for %v (%s)", *serveAfter, why)
			time.Sleep(*serveAfter)
		}
		log.Printf("shutting down (%s)", why)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := shutdownSrv(ctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	// Serve returns at once on Shutdown; wait for Shutdown's own end.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = shutdownSrv(ctx)
	done()
	if *keepRunning {
		// Bounded, so that a test that fails to stop it leaves nothing
		// behind for long.
		log.Printf("shut down; keeping the process running")
		time.Sleep(time.Minute)
	}
	log.Printf("shut down; exit %d", *exitCode)
	os.Exit(*exitCode)
}
