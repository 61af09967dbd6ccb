package policy

import (
	"net/http"
	"reflect"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// requestActivation is the variables one Allow call shows its rule. CEL
// resolves only the names an expression references, and httpRequestVal
// converts a field only when it is read, so a rule that never mentions
// claims or headers never pays for them. Activations are pooled; one
// belongs to a single Allow call at a time.
type requestActivation struct {
	request httpRequestVal
	claims  ref.Val // converted on first use
}

var _ interpreter.Activation = (*requestActivation)(nil)

// reset points the activation at in, dropping every value converted for
// the previous call (nil leaves it empty for the pool, holding nothing of
// the last request).
func (a *requestActivation) reset(in *RequestInput) {
	*a = requestActivation{request: httpRequestVal{in: in}}
}

// ResolveName implements interpreter.Activation.
func (a *requestActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return &a.request, true
	case "claims":
		if a.claims == nil {
			if a.request.in.Claims == nil {
				a.claims = emptyClaims
			} else {
				// A view over the token's claims, not a copy: a value is
				// converted when the rule reads it.
				a.claims = types.NewStringInterfaceMap(types.DefaultTypeAdapter, a.request.in.Claims)
			}
		}
		return a.claims, true
	}
	return nil, false
}

// Parent implements interpreter.Activation; there is none.
func (a *requestActivation) Parent() interpreter.Activation { return nil }

// The values of an absent claims set and params map, shared and never
// written. On a public route claims.sub is then an error (a denial), not
// a crash.
var (
	emptyClaims ref.Val = types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{})
	emptyParams ref.Val = types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{})
)

// httpRequestVal is the CEL value of the request variable of a gateway
// rule. Each field is converted on first read and kept for the rest of the
// evaluation.
type httpRequestVal struct {
	in                                    *RequestInput
	ip, method, path, params, headers, ts ref.Val
}

func (r *httpRequestVal) getIP() ref.Val {
	if r.ip == nil {
		r.ip = types.String(ipString(r.in.IP))
	}
	return r.ip
}

func (r *httpRequestVal) getMethod() ref.Val {
	if r.method == nil {
		r.method = types.String(r.in.Method)
	}
	return r.method
}

func (r *httpRequestVal) getPath() ref.Val {
	if r.path == nil {
		r.path = types.String(r.in.Path)
	}
	return r.path
}

func (r *httpRequestVal) getParams() ref.Val {
	if r.params == nil {
		if r.in.Params == nil {
			r.params = emptyParams
		} else {
			r.params = types.NewStringStringMap(types.DefaultTypeAdapter, r.in.Params)
		}
	}
	return r.params
}

func (r *httpRequestVal) getHeaders() ref.Val {
	if r.headers == nil {
		r.headers = &headerMap{h: r.in.Header}
	}
	return r.headers
}

func (r *httpRequestVal) getTime() ref.Val {
	if r.ts == nil {
		r.ts = types.Timestamp{Time: r.in.Time}
	}
	return r.ts
}

var (
	_ ref.Val            = (*httpRequestVal)(nil)
	_ traits.Indexer     = (*httpRequestVal)(nil)
	_ traits.FieldTester = (*httpRequestVal)(nil)
)

// The ref.Val methods of httpRequestVal: it converts only to its own type
// and to type, for type(request), and equals only itself.
func (r *httpRequestVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNoConversion }
func (r *httpRequestVal) ConvertToType(t ref.Type) ref.Val {
	return convertObject(r, requestRuleType, t)
}
func (r *httpRequestVal) Type() ref.Type              { return requestRuleType }
func (r *httpRequestVal) Value() any                  { return r }
func (r *httpRequestVal) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(r)) }

// Get implements traits.Indexer, for a field read the checker could not
// resolve statically (dyn(request).method).
func (r *httpRequestVal) Get(index ref.Val) ref.Val {
	return getObjectField(r, requestRuleFields[requestRuleType.TypeName()], index)
}

// IsSet implements traits.FieldTester: every field is always set.
func (r *httpRequestVal) IsSet(field ref.Val) ref.Val {
	if v := r.Get(field); types.IsError(v) {
		return v
	}
	return types.True
}

// headerMap is request.headers: the request's header as a
// map(string,string) whose keys are lower-case names and whose values are
// each name's first value. A lookup reads http.Header in place without
// copying; anything that needs the whole map (size, iteration, equality)
// builds it once per evaluation.
type headerMap struct {
	h    http.Header
	full traits.Mapper // built on first need
}

var _ traits.Mapper = (*headerMap)(nil)

// lookup returns the first value of the header whose lower-cased name is
// name. A name with an upper-case letter is not a key of the map, as the
// map holds lower-case names only. When http.Header holds the same name
// under several spellings (set directly rather than through Set), the
// canonical spelling wins, then the smallest; materialize agrees.
func (m *headerMap) lookup(name string) (string, bool) {
	if name == "" || m.h == nil || hasUpper(name) {
		return "", false
	}
	var buf [128]byte
	if len(name) <= len(buf) {
		canon := canonicalHeaderKey(buf[:len(name)], name)
		// m.h[string(b)] does not allocate.
		if vs := m.h[string(canon)]; len(vs) > 0 {
			return vs[0], true
		}
	} else if vs := m.h[http.CanonicalHeaderKey(name)]; len(vs) > 0 {
		return vs[0], true
	}
	best, found := "", false
	var val string
	for k, vs := range m.h {
		if len(vs) == 0 || !strings.EqualFold(k, name) {
			continue
		}
		if !found || k < best {
			best, val, found = k, vs[0], true
		}
	}
	return val, found
}

// canonicalHeaderKey writes the canonical form of the lower-case name s
// into b (len(b) == len(s)): each letter after the start or a hyphen
// upper-cased, as textproto.CanonicalMIMEHeaderKey does for valid names.
// An invalid name comes out changed but matches nothing canonical, and the
// fallback scan in lookup still finds it.
func canonicalHeaderKey(b []byte, s string) []byte {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	return b
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// materialize builds the whole map with the same choice of value per name
// as lookup.
func (m *headerMap) materialize() traits.Mapper {
	if m.full != nil {
		return m.full
	}
	out := make(map[string]string, len(m.h))
	from := make(map[string]string, len(m.h)) // lower name → source key
	for k, vs := range m.h {
		if len(vs) == 0 {
			continue
		}
		name := strings.ToLower(k)
		prev, seen := from[name]
		if seen && !betterHeaderKey(k, prev) {
			continue
		}
		from[name] = k
		out[name] = vs[0]
	}
	m.full = types.NewStringStringMap(types.DefaultTypeAdapter, out)
	return m.full
}

// betterHeaderKey reports whether spelling k beats prev for the same name:
// the canonical spelling first, then the smallest.
func betterHeaderKey(k, prev string) bool {
	kc, pc := http.CanonicalHeaderKey(k) == k, http.CanonicalHeaderKey(prev) == prev
	if kc != pc {
		return kc
	}
	return k < prev
}

// Find implements traits.Mapper.
func (m *headerMap) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		return types.ValOrErr(key, "no such key: %v", key), false
	}
	v, ok := m.lookup(string(s))
	if !ok {
		return nil, false
	}
	return types.String(v), true
}

// Get implements traits.Indexer.
func (m *headerMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container.
func (m *headerMap) Contains(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if v != nil && types.IsUnknownOrError(v) {
		return v
	}
	return types.Bool(found)
}

// Iterator implements traits.Iterable.
func (m *headerMap) Iterator() traits.Iterator { return m.materialize().Iterator() }

// Size implements traits.Sizer.
func (m *headerMap) Size() ref.Val { return m.materialize().Size() }

// ConvertToNative implements ref.Val.
func (m *headerMap) ConvertToNative(t reflect.Type) (any, error) {
	return m.materialize().ConvertToNative(t)
}

// ConvertToType implements ref.Val.
func (m *headerMap) ConvertToType(t ref.Type) ref.Val { return m.materialize().ConvertToType(t) }

// Equal implements ref.Val.
func (m *headerMap) Equal(other ref.Val) ref.Val { return m.materialize().Equal(other) }

// Type implements ref.Val.
func (m *headerMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *headerMap) Value() any { return m.materialize().Value() }
