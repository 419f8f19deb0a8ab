package demo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/sandbox"
)

// simulator is the sandbox served on a real loopback listener, recording
// every Exchange.
type simulator struct {
	url string
	srv *http.Server

	mu sync.Mutex
	xs []sandbox.Exchange
}

// startSimulator serves the sandbox for creds on addr.
func startSimulator(creds *sandbox.Credentials, addr string, faults sandbox.Faults) (*simulator, error) {
	s := &simulator{}
	cfg := creds.ServerConfig()
	cfg.Faults = faults
	cfg.Observer = func(x sandbox.Exchange) {
		s.mu.Lock()
		s.xs = append(s.xs, x)
		s.mu.Unlock()
	}
	h, err := sandbox.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return s, nil
}

// exchanges returns what the simulator has recorded so far.
func (s *simulator) exchanges() []sandbox.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sandbox.Exchange(nil), s.xs...)
}

// close stops the simulator, waiting briefly for requests in flight.
func (s *simulator) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}
