package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/tracing"
)

// transportKey identifies a tuned transport: upstreams with equal keys
// share one, and so its idle connections. File contents are part of the
// key, so a reload after a certificate rotation gets a fresh transport.
type transportKey struct {
	https      bool
	dial       time.Duration
	header     time.Duration
	serverName string
	ca, cert   [sha256.Size]byte
}

// NewUpstreamTransport returns the tuned transport the gateway proxies
// with: connections kept warm for many concurrent clients, every timeout
// set, HTTP/2 attempted toward https upstreams, and never an environment
// proxy. tlsConfig may be nil. Exported so load harnesses can compare
// against a plain httputil.ReverseProxy over the same settings.
func NewUpstreamTransport(dial, responseHeader time.Duration, tlsConfig *tls.Config) *http.Transport {
	if dial <= 0 {
		dial = catalog.DefaultDialTimeout
	}
	if responseHeader <= 0 {
		responseHeader = catalog.DefaultUpstreamTimeout
	}
	d := &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: responseHeader,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     tlsConfig != nil,
		TLSClientConfig:       tlsConfig,
	}
}

// transportFor builds the TLS settings of an API's upstream, reading its
// files, and returns the key and a constructor; the caller reuses an
// existing transport with the same key. The API is validated: tls is set
// only for an https upstream, a certificate with its key.
func transportFor(api *catalog.API, target *url.URL, baseDir string) (transportKey, func() *http.Transport, error) {
	k := transportKey{
		https:  target.Scheme == "https",
		dial:   api.Timeouts.Dial.Duration(),
		header: api.Timeouts.Upstream.Duration(),
	}
	t := api.TLS
	if !k.https {
		return k, func() *http.Transport { return NewUpstreamTransport(k.dial, k.header, nil) }, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	k.serverName = t.ServerName
	if t.CAFile != "" {
		pem, err := os.ReadFile(resolvePath(baseDir, t.CAFile))
		if err != nil {
			return k, nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return k, nil, errors.New("tls.ca_file: no PEM certificate in it")
		}
		cfg.RootCAs = pool
		k.ca = sha256.Sum256(pem)
	}
	if t.CertFile != "" {
		certPEM, err := os.ReadFile(resolvePath(baseDir, t.CertFile))
		if err != nil {
			return k, nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(resolvePath(baseDir, t.KeyFile))
		if err != nil {
			return k, nil, fmt.Errorf("tls.key_file: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// The parse error never quotes key material.
			return k, nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		h := sha256.New()
		h.Write(certPEM)
		h.Write(keyPEM)
		copy(k.cert[:], h.Sum(nil))
	}
	return k, func() *http.Transport { return NewUpstreamTransport(k.dial, k.header, cfg) }, nil
}

// upstream proxies one API to its backend.
type upstream struct {
	api string
	// base is what is cut off the request path before the upstream's
	// path is put in front: the API's base path, empty for "/".
	base   string
	target *url.URL
	// path and rawPath are the target's path without a trailing slash.
	path, rawPath string
	logger        *slog.Logger
	rp            *httputil.ReverseProxy
	// signer is the response filter's, which needs the inbound request.
	signer *responseSigner
	// traced is set when the gateway traces: the outbound request then
	// carries this hop's traceparent instead of the client's.
	traced bool
}

func newUpstream(name, base string, target *url.URL, rt http.RoundTripper, filter *responseFilter, logger *slog.Logger) *upstream {
	u := &upstream{
		api:     name,
		base:    base,
		target:  target,
		path:    strings.TrimSuffix(target.Path, "/"),
		rawPath: strings.TrimSuffix(target.EscapedPath(), "/"),
		logger:  logger,
		signer:  filter.signer,
	}
	u.rp = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      rt,
		ModifyResponse: filter.modify,
		ErrorHandler:   u.fail,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BufferPool:     proxyBuffers,
		// Zero: ReverseProxy flushes every write of a response whose
		// length is unknown (a stream: chunked downloads, NDJSON, long
		// polls) or that is text/event-stream as it comes, and leaves
		// a response of known length to the server's buffer, which sends
		// it whole. -1 flushed those too, a flush per write that gained
		// nothing: without it the gap to a plain proxy in
		// BenchmarkThroughput went from 26 % to 19 % (docs/performance.md).
		FlushInterval: 0,
	}
	return u
}

// ServeHTTP makes upstream the chain's last step. The upstream call ends
// at the call's deadline (the API's timeouts.response), so a stream that
// outlives it is cancelled rather than left waiting for a write to fail.
func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	ex.decision = decisionAllow
	if !ex.deadline.IsZero() {
		ctx, cancel := context.WithDeadline(r.Context(), ex.deadline)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if u.signer != nil {
		r = u.signer.bind(r, ex)
	}
	if ex.tracer != nil {
		u.serveTraced(w, ex, r)
		return
	}
	u.rp.ServeHTTP(w, r)
}

// serveTraced is ServeHTTP in a client span, which rewrite sends on as
// traceparent: the span covers the whole exchange, the response body
// relayed to the client included.
func (u *upstream) serveTraced(w http.ResponseWriter, ex *exchange, r *http.Request) {
	ctx, span := ex.tracer.Start(r.Context(), spanUpstream,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("server.address", u.target.Hostname()),
		))
	u.rp.ServeHTTP(w, r.WithContext(ctx))
	endUpstream(span, ex)
}

// rewrite points the outbound request at the upstream: its path is the
// upstream's path followed by exactly what was matched after the base
// path, escaping preserved, and the headers the header step decided on
// are put back where ReverseProxy removed them.
func (u *upstream) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Scheme = u.target.Scheme
	out.URL.Host = u.target.Host
	rest := in.URL.Path[len(u.base):]
	switch {
	case u.path == "" && rest == "":
		out.URL.Path = "/"
	case u.path == "":
		out.URL.Path = rest
	default:
		out.URL.Path = u.path + rest
	}
	out.URL.RawPath = ""
	if raw := in.URL.RawPath; raw != "" && strings.HasPrefix(raw, u.base) {
		out.URL.RawPath = u.rawPath + raw[len(u.base):]
	}
	if q := u.target.RawQuery; q != "" {
		if out.URL.RawQuery == "" {
			out.URL.RawQuery = q
		} else {
			out.URL.RawQuery = q + "&" + out.URL.RawQuery
		}
	}
	out.Host = ""
	// ReverseProxy drops the forwarding headers before Rewrite, and a
	// client may have listed any header in Connection to have it dropped
	// as hop-by-hop: restore the ones the header step set.
	for _, k := range restoredHeaders {
		if v, ok := in.Header[k]; ok {
			out.Header[k] = v
		} else {
			delete(out.Header, k)
		}
	}
	if u.traced {
		// The upstream continues this hop's span (or, for a request not
		// sampled, learns it is not sampled), never the client's.
		tracing.Inject(out.Context(), out.Header)
	}
}

var restoredHeaders = []string{
	"Authorization", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto",
	"X-Forwarded-Host", "Forwarded",
}

// fail answers a failed upstream exchange: 504 when it timed out, 413 when
// the body passed the limit, 502 otherwise. The body never names the
// upstream; the log does, with the request id.
func (u *upstream) fail(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeOf(w)
	var tooLarge *http.MaxBytesError
	level := slog.LevelWarn
	switch {
	case errors.As(err, &tooLarge):
		ex.problem(problemTooLarge, decisionTooLarge)
		level = slog.LevelInfo
	case r.Context().Err() != nil && !errors.Is(err, context.DeadlineExceeded):
		// The client went away; nobody reads this answer.
		ex.problem(problemBadGateway, decisionClientClosed)
		level = slog.LevelDebug
	case isTimeout(err):
		ex.problem(problemTimeout, decisionTimeout)
	default:
		ex.problem(problemBadGateway, decisionBadGateway)
	}
	u.logger.LogAttrs(r.Context(), level, "upstream request failed",
		slog.String("api", u.api),
		slog.String("request_id", ex.id),
		slog.String("error", redactURLError(err)))
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redactURLError renders err without the request URL a *url.Error quotes:
// its query string is the client's and may hold anything, tokens
// included.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// bufferPool recycles ReverseProxy's copy buffers (32 KiB each) without
// allocating on Put: the slices travel in boxes that are pooled too.
type bufferPool struct {
	bufs, boxes sync.Pool
}

const proxyBufferSize = 32 << 10

var proxyBuffers = &bufferPool{}

// Get returns a copy buffer.
func (p *bufferPool) Get() []byte {
	if box, ok := p.bufs.Get().(*[]byte); ok {
		b := *box
		*box = nil
		p.boxes.Put(box)
		return b
	}
	return make([]byte, proxyBufferSize)
}

// Put recycles b.
func (p *bufferPool) Put(b []byte) {
	if cap(b) < proxyBufferSize {
		return
	}
	box, ok := p.boxes.Get().(*[]byte)
	if !ok {
		box = new([]byte)
	}
	*box = b[:proxyBufferSize]
	p.bufs.Put(box)
}

var _ httputil.BufferPool = (*bufferPool)(nil)

// resolvePath reads p relative to baseDir, the directory of the file
// that declared the catalog (empty: the working directory).
func resolvePath(baseDir, p string) string {
	if baseDir == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}
