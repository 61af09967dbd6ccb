package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

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
type fieldRulesStep struct {
	rules *fieldrules.Rules
	// removed, encrypted and dropped count what the rules did; nil when
	// metrics are off.
	removed, encrypted, dropped prometheus.Counter
	next                        http.Handler
}

type fieldCallKey struct{}

// fieldCall is one request's rules and claims.
type fieldCall struct {
	step   *fieldRulesStep
	claims map[string]any
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
	s := &fieldRulesStep{rules: rules, next: next}
	if m := c.op.metrics; m != nil && m.fields != nil {
		s.removed = m.fields.WithLabelValues(m.api, m.version, m.op, fieldrules.ActionRemove)
		s.encrypted = m.fields.WithLabelValues(m.api, m.version, m.op, fieldrules.ActionEncrypt)
		s.dropped = m.fields.WithLabelValues(m.api, m.version, m.op, "filter")
	}
	return s, nil
}

// fieldSpec turns the catalog's block into the engine's, with the keys.
func fieldSpec(r *catalog.ResponseRules, getenv func(string) string) (fieldrules.Spec, error) {
	spec := fieldrules.Spec{Filter: r.Filter, FilterPath: r.FilterPath, MaxBodyBytes: r.MaxBodyBytes}
	for i, f := range r.Fields {
		fs := fieldrules.FieldSpec{Select: f.Select, Action: f.Action, When: f.When, Unless: f.Unless}
		if f.Action == fieldrules.ActionEncrypt {
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
	call := &fieldCall{step: s}
	if ex.verified != nil {
		call.claims = ex.verified.Claims.Raw
	}
	// Without the client's Accept-Encoding the transport asks for gzip
	// itself and decompresses, so the filter reads plain JSON.
	delete(r.Header, "Accept-Encoding")
	s.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), fieldCallKey{}, call)))
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
	body, err := readUpTo(res.Body, limit, res.ContentLength)
	_ = res.Body.Close()
	if err != nil {
		return fmt.Errorf("field rules: reading the body: %w", err)
	}
	if int64(len(body)) > limit {
		return fieldrules.ErrTooLarge
	}
	if len(body) > 0 {
		if !isJSONType(res.Header["Content-Type"]) {
			return errFieldsNotJSON
		}
		out, n, err := s.rules.Apply(body, call.claims)
		if err != nil {
			return fmt.Errorf("field rules: %w", err)
		}
		if n != (fieldrules.Counts{}) {
			s.count(n)
			// The upstream's validators describe a body that is gone.
			for _, k := range rewrittenBodyHeaders {
				delete(res.Header, k)
			}
		}
		body = out
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.TransferEncoding = nil
	res.Header["Content-Length"] = []string{strconv.Itoa(len(body))}
	return nil
}

var rewrittenBodyHeaders = []string{"Etag", "Content-Md5", "Content-Digest", "Repr-Digest", "Last-Modified"}

func (s *fieldRulesStep) count(n fieldrules.Counts) {
	if s.removed == nil {
		return
	}
	s.removed.Add(float64(n.Removed))
	s.encrypted.Add(float64(n.Encrypted))
	s.dropped.Add(float64(n.Dropped))
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
		Help: "Response fields removed or encrypted, and array elements filtered out, by API, API version, operation and action (remove, encrypt, filter).",
	}, []string{"api", "version", "operation", "action"})
}
