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
// shutdown is called. url is "http://host:port".
func Start(addr string, e *Emulator) (url string, shutdown func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	var result error
	shutdown = func(ctx context.Context) error {
		once.Do(func() {
			err := srv.Shutdown(ctx)
			if err != nil {
				_ = srv.Close() // requests stuck in latency faults
			}
			if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, fmt.Errorf("emulator serve: %w", serr))
			}
			result = err
		})
		return result
	}
	return "http://" + ln.Addr().String(), shutdown, nil
}
