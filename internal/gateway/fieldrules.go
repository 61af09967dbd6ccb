package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/fieldrules"
)

// fieldRulesStep hands an operation's response rules (its filter, the
// fields it removes or encrypts) and the caller's verified claims to the
// response filter, which runs them in the proxy's ModifyResponse. They
// travel in the outbound request's context, as the signer's call does
// (signing.go): only operations with rules build this step, and only
// their APIs' response filters look for it.
//
// Rules that encrypt to the calling client need its registered public
// key: the step fetches it once per request, before the upstream is
// called, so that a key source that is down fails the call with 502
// before the backend acts on it (fail closed), and a client without an
// encryption key has those fields removed, never sent in clear.
type fieldRulesStep struct {
	rules *fieldrules.Rules
	// keys finds the calling client's keys; nil when no rule encrypts to
	// the client.
	keys   ClientKeys
	logger *slog.Logger
	// removed, encrypted, dropped and noKey count what the rules did;
	// nil when metrics are off.
	removed, encrypted, dropped, noKey prometheus.Counter
	next                               http.Handler
}

// Metric action and access log reason of fields removed because the
// client has no key to encrypt them to.
const fieldsNoKey = "encrypt_no_key"

type fieldCallKey struct{}

// fieldCall is one request's rules, claims and client key.
type fieldCall struct {
	step   *fieldRulesStep
	claims map[string]any
	// key encrypts the fields meant for the client; nil when none is
	// needed or the client has none.
	key *fieldrules.ClientKey
	// ex is the request's exchange, alive while the proxy (and so the
	// response filter) runs, for the access log's reason.
	ex *exchange
}

// newFieldRules builds the step of an operation with a response block;
// the keys of its encrypt rules are read from the environment here,
// never per request.
func newFieldRules(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.opCfg == nil || c.opCfg.Response == nil {
		return next, nil
	}
	spec, err := fieldSpec(c.opCfg.Response, c.getenv)
	if err != nil {
		return nil, err
	}
	rules, err := fieldrules.Compile(spec)
	if err != nil {
		return nil, err
	}
	s := &fieldRulesStep{rules: rules, next: next, logger: c.api.upstream.logger}
	if rules.EncryptsToClient() {
		if c.clientKeys == nil {
			// Without a key source every such field would be removed:
			// refuse the configuration rather than degrade silently.
			return nil, errors.New("response.fields: recipient client needs the gateway to read clients' registered keys, and this gateway has no source of them")
		}
		s.keys = c.clientKeys
	}
	if m := c.op.metrics; m != nil && m.fields != nil {
		s.removed = m.fields.WithLabelValues(m.api, m.version, m.op, fieldrules.ActionRemove)
		s.encrypted = m.fields.WithLabelValues(m.api, m.version, m.op, fieldrules.ActionEncrypt)
		s.dropped = m.fields.WithLabelValues(m.api, m.version, m.op, "filter")
		s.noKey = m.fields.WithLabelValues(m.api, m.version, m.op, fieldsNoKey)
	}
	return s, nil
}

// fieldSpec turns the catalog's block into the engine's, with the keys.
func fieldSpec(r *catalog.ResponseRules, getenv func(string) string) (fieldrules.Spec, error) {
	spec := fieldrules.Spec{Filter: r.Filter, FilterPath: r.FilterPath, MaxBodyBytes: r.MaxBodyBytes}
	for i, f := range r.Fields {
		fs := fieldrules.FieldSpec{Select: f.Select, Action: f.Action, When: f.When, Unless: f.Unless,
			Recipient: f.Recipient, KeyID: f.KeyID}
		if f.Action == fieldrules.ActionEncrypt && f.Recipient != fieldrules.RecipientClient {
			key, err := fieldKey(f.KeyEnv, getenv)
			if err != nil {
				return spec, fmt.Errorf("response.fields[%d].key_env: %w", i, err)
			}
			fs.Key = key
		}
		spec.Fields = append(spec.Fields, fs)
	}
	return spec, nil
}

// fieldKey reads a 32-byte key in base64 from the environment. The
// errors never quote it.
func fieldKey(name string, getenv func(string) string) ([]byte, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return nil, fmt.Errorf("environment variable %s is empty", name)
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return nil, fmt.Errorf("environment variable %s is not standard base64", name)
		}
	}
	if len(key) != fieldrules.KeySize {
		return nil, fmt.Errorf("environment variable %s holds %d bytes, want %d (openssl rand -base64 32)", name, len(key), fieldrules.KeySize)
	}
	return key, nil
}

func (s *fieldRulesStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	call := &fieldCall{step: s, ex: ex}
	if ex.verified != nil {
		call.claims = ex.verified.Claims.Raw
	}
	if s.keys != nil && s.rules.NeedsClientKey(call.claims) {
		key, err := s.clientKey(r.Context(), ex)
		if err != nil {
			// Fail closed: the fields cannot be protected as configured,
			// so the upstream is not called at all.
			ex.reason = "client keys unavailable"
			d, level := decisionBadGateway, slog.LevelWarn
			if r.Context().Err() != nil {
				// The client went away; nobody reads this answer.
				d, level = decisionClientClosed, slog.LevelDebug
			}
			ex.problem(problemBadGateway, d)
			s.logger.LogAttrs(r.Context(), level, "field rules: client keys unavailable",
				slog.String("request_id", ex.id), slog.String("error", err.Error()))
			return
		}
		call.key = key
	}
	// Without the client's Accept-Encoding the transport asks for gzip
	// itself and decompresses, so the filter reads plain JSON.
	delete(r.Header, "Accept-Encoding")
	s.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), fieldCallKey{}, call)))
}

// clientKey is the encryption key of the token's client, fetched once
// for the whole response; nil when the caller has none (no token, no
// client id, no keys, no key of use enc). An error means the keys could
// not be read now.
func (s *fieldRulesStep) clientKey(ctx context.Context, ex *exchange) (*fieldrules.ClientKey, error) {
	id := callerClientID(ex)
	if id == "" {
		return nil, nil
	}
	set, err := s.keys.ClientKeys(ctx, id)
	switch {
	case errors.Is(err, ErrNoClientKeys):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("client %s: %w", id, err)
	}
	key, err := fieldrules.NewClientKey(set)
	if err != nil {
		if !errors.Is(err, fieldrules.ErrNoClientKey) {
			// A registered key go-jose will not encrypt to: the fields
			// are withheld like those of a client without a key.
			s.logger.LogAttrs(ctx, slog.LevelWarn, "field rules: client encryption key unusable",
				slog.String("request_id", ex.id), slog.String("client_id", id), slog.String("error", err.Error()))
		}
		return nil, nil
	}
	return key, nil
}

// callerClientID is the verified token's client: client_id (RFC 9068
// §2.2), else azp (OpenID Connect Core §2) for issuers that use it.
func callerClientID(ex *exchange) string {
	v := ex.verified
	if v == nil || v.Claims == nil {
		return ""
	}
	if v.Claims.ClientID != "" {
		return v.Claims.ClientID
	}
	azp, _ := v.Claims.Raw["azp"].(string)
	return azp
}

// hasResponseRules reports whether some operation of c has a response
// block, so that the response filter of an API without one never looks.
func hasResponseRules(c *catalog.API) bool {
	for i := range c.Operations {
		if c.Operations[i].Response != nil {
			return true
		}
	}
	return false
}

var errFieldsEncoded = errors.New("field rules: response has a content encoding")
var errFieldsNotJSON = errors.New("field rules: response is not JSON")

// rewriteFields runs the request's field rules on res. An error fails
// the exchange with 502 (the proxy's ErrorHandler): a body the rules
// cannot read never reaches the caller unfiltered.
func rewriteFields(res *http.Response) error {
	call, _ := res.Request.Context().Value(fieldCallKey{}).(*fieldCall)
	if call == nil || res.StatusCode == http.StatusSwitchingProtocols || res.Request.Method == http.MethodHead ||
		res.StatusCode == http.StatusNoContent || res.StatusCode == http.StatusNotModified || res.ContentLength == 0 {
		return nil
	}
	s := call.step
	limit := s.rules.MaxBodyBytes()
	if ce := res.Header["Content-Encoding"]; len(ce) > 0 && !strings.EqualFold(ce[0], "identity") {
		return errFieldsEncoded
	}
	if res.ContentLength > limit {
		return fieldrules.ErrTooLarge
	}
	buf := fieldBodies.Get().(*bytes.Buffer)
	// The buffer goes back to the pool unless its bytes go on as the
	// body.
	handedOn := false
	defer func() {
		if !handedOn {
			releaseFieldBody(buf)
		}
	}()
	body, err := readFieldBody(buf, res.Body, limit, res.ContentLength)
	_ = res.Body.Close()
	if err != nil {
		return fmt.Errorf("field rules: reading the body: %w", err)
	}
	if int64(len(body)) > limit {
		return fieldrules.ErrTooLarge
	}
	if len(body) == 0 {
		body = nil
	} else {
		if !isJSONType(res.Header["Content-Type"]) {
			return errFieldsNotJSON
		}
		out, n, err := s.rules.Apply(body, call.claims, call.key)
		if err != nil {
			return fmt.Errorf("field rules: %w", err)
		}
		if n.NoKey > 0 && call.ex.reason == "" {
			call.ex.reason = fieldsNoKey
		}
		if n != (fieldrules.Counts{}) {
			s.count(n)
			// The upstream's validators describe a body that is gone.
			for _, k := range rewrittenBodyHeaders {
				delete(res.Header, k)
			}
		} else {
			// Unchanged: the upstream's bytes go on as they came.
			handedOn = true
		}
		body = out
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.TransferEncoding = nil
	res.Header["Content-Length"] = []string{strconv.Itoa(len(body))}
	return nil
}

// fieldBodies pools the buffers upstream bodies are read into: a body
// the rules rewrite is dead once they have, and its buffer serves a
// later response.
var fieldBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledFieldBody bounds the buffers kept: one grown on a large body
// is left to the collector.
const maxPooledFieldBody = 64 << 10

// readFieldBody reads up to limit+1 bytes of r into buf, sized once
// when the length is known.
func readFieldBody(buf *bytes.Buffer, r io.Reader, limit, size int64) ([]byte, error) {
	buf.Reset()
	if size >= 0 {
		// Room for ReadFrom to see the end.
		buf.Grow(int(size) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	return buf.Bytes(), err
}

// releaseFieldBody pools buf, wiped: the pool keeps no response.
func releaseFieldBody(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledFieldBody {
		return
	}
	b := buf.Bytes()
	clear(b[:cap(b)])
	buf.Reset()
	fieldBodies.Put(buf)
}

var rewrittenBodyHeaders = []string{"Etag", "Content-Md5", "Content-Digest", "Repr-Digest", "Last-Modified"}

func (s *fieldRulesStep) count(n fieldrules.Counts) {
	if s.removed == nil {
		return
	}
	s.removed.Add(float64(n.Removed))
	s.encrypted.Add(float64(n.Encrypted))
	s.dropped.Add(float64(n.Dropped))
	s.noKey.Add(float64(n.NoKey))
}

// isJSONType reports application/json or a +json type (RFC 6839 §3.1).
func isJSONType(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct[0])
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// newFieldMetrics is the counter of what field rules did.
func newFieldMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_fields_rewritten_total",
		Help: "Response fields removed or encrypted, and array elements filtered out, by API, API version, operation and action (remove, encrypt, filter, and encrypt_no_key for fields removed because the client has no encryption key).",
	}, []string{"api", "version", "operation", "action"})
}
