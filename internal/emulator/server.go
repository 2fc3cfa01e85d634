package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Start listens on addr (use 127.0.0.1:0 in tests) and serves e until
// shutdown is called. url is "http://host:port". shutdown waits for requests
// in flight until ctx ends, then closes what is left.
func Start(addr string, e *Emulator) (url string, shutdown func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	// Track connections a client dialed but never used: http.Server.Shutdown
	// waits 5 s for those, which would slow every test and SIGTERM.
	var mu sync.Mutex
	fresh := map[net.Conn]bool{}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if s == http.StateNew {
				fresh[c] = true
			} else {
				delete(fresh, c)
			}
		},
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	var once sync.Once
	var result error
	shutdown = func(ctx context.Context) error {
		once.Do(func() {
			res := make(chan error, 1)
			go func() { res <- srv.Shutdown(ctx) }()
			for {
				var err error
				select {
				case err = <-res:
				case <-time.After(20 * time.Millisecond):
					mu.Lock()
					for c := range fresh {
						_ = c.Close()
					}
					mu.Unlock()
					continue
				}
				if err != nil {
					_ = srv.Close() // requests stuck in latency faults
				}
				if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
					err = errors.Join(err, fmt.Errorf("emulator serve: %w", serr))
				}
				result = err
				return
			}
		})
		return result
	}
	return "http://" + ln.Addr().String(), shutdown, nil
}
