package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths the server answers.
const (
	// MetricsPath serves the metrics in Prometheus' text format (or
	// OpenMetrics, protobuf, when the scraper asks for them).
	MetricsPath = "/metrics"
	// HealthPath answers 200 once the package's programs are attached and
	// their maps are being read, 503 before and after: a readiness probe.
	HealthPath = "/healthz"
)

// AddrError is an --metrics address that is not [HOST]:PORT.
type AddrError struct {
	Addr   string
	Reason string
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("%q is not an address to serve metrics on (%s); use :PORT or HOST:PORT, e.g. :9090 or 127.0.0.1:9090", e.Addr, e.Reason)
}

// CheckAddr reports whether addr is [HOST]:PORT with a numeric port
// (0 picks a free one), without binding it.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return &AddrError{Addr: addr, Reason: ae.Err}
		}
		return &AddrError{Addr: addr, Reason: err.Error()}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return &AddrError{Addr: addr, Reason: "the port is not a number from 0 to 65535"}
	}
	if host != "" && net.ParseIP(host) == nil {
		if len(host) > 253 {
			return &AddrError{Addr: addr, Reason: "the host name is too long"}
		}
		for _, c := range host {
			if !(c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return &AddrError{Addr: addr, Reason: "the host is neither an IP address nor a host name"}
			}
		}
	}
	return nil
}

// Server serves /metrics and /healthz from one registry: the Go runtime's
// and the process' metrics from the start, and a run's [Set] while it
// runs.
type Server struct {
	reg   *prometheus.Registry
	ln    net.Listener
	srv   *http.Server
	ready atomic.Bool
	done  chan struct{}
	err   error
}

// Listen binds addr ([HOST]:PORT) and serves on it until Close. It binds
// before returning, so an address in use is an error here, before anything
// is loaded.
func Listen(addr string) (*Server, error) {
	if err := CheckAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve metrics on %s: %w", addr, unwrapOp(err))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{reg: reg, ln: ln, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle(MetricsPath, promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})))
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not attached", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body>ecli: <a href=%q>%s</a> <a href=%q>%s</a></body></html>\n", MetricsPath, MetricsPath, HealthPath, HealthPath)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// unwrapOp drops the *net.OpError's "listen tcp ADDR:" prefix, which the
// caller's message already says: "address already in use" remains.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// Addr is the address the server listens on (the port chosen for :0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Registry is the server's registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// SetReady sets what /healthz answers: 200 when ready, else 503.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Register adds a collector (a run's [Set]) to what /metrics serves.
func (s *Server) Register(c prometheus.Collector) error { return s.reg.Register(c) }

// Unregister removes a collector.
func (s *Server) Unregister(c prometheus.Collector) bool { return s.reg.Unregister(c) }

// Close stops the server: requests under way get up to two seconds to
// finish, then connections are closed.
func (s *Server) Close() error {
	s.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	if s.err != nil {
		return s.err
	}
	return err
}
