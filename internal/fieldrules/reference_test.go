package fieldrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// This file keeps the first implementation of Apply — the body decoded
// into map[string]any with json.Number, rewritten there, encoded with
// encoding/json — as the reference the document-based one is checked
// against (FuzzApplyMatchesReference, FuzzDocument).

// referenceApply is Apply as it was, with seal standing in for the
// encryption (which draws a random IV).
func referenceApply(r *Rules, body []byte, claims map[string]any, client bool, seal func(any) (any, error)) ([]byte, Counts, error) {
	var n Counts
	if int64(len(body)) > r.maxBody {
		return nil, n, ErrTooLarge
	}
	doc, err := referenceDecode(body)
	if err != nil {
		return nil, n, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	vars := map[string]any{"claims": claims}
	box := []any{doc}
	if r.filter != nil {
		if err := containers(box, r.filterArray, func(c any, last step) error {
			return replace(c, last, func(v any) (any, error) { return referenceFilter(r, v, vars, &n) })
		}); err != nil {
			return nil, n, err
		}
	}
	for i := range r.fields {
		f := &r.fields[i]
		if !f.acts(vars) {
			continue
		}
		var err error
		switch {
		case f.toClient && !client:
			err = containers(box, f.steps, referenceRemover(&n.NoKey))
		case f.encrypt:
			err = containers(box, f.steps, func(c any, last step) error {
				return replace(c, last, func(v any) (any, error) { n.Encrypted++; return seal(v) })
			})
		default:
			err = containers(box, f.steps, referenceRemover(&n.Removed))
		}
		if err != nil {
			return nil, n, err
		}
	}
	if n == (Counts{}) {
		return body, n, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(box[0]); err != nil {
		return nil, n, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), n, nil
}

func referenceRemover(n *int) func(c any, last step) error {
	return func(c any, last step) error {
		if m, ok := c.(map[string]any); ok {
			if _, has := m[last.name]; has {
				delete(m, last.name)
				*n++
			}
		}
		return nil
	}
}

func referenceDecode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, ErrNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrNotJSON
	}
	return doc, nil
}

func referenceFilter(r *Rules, v any, vars map[string]any, n *Counts) (any, error) {
	if v == nil {
		return nil, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, ErrShape
	}
	kept := a[:0]
	for _, e := range a {
		vars["element"] = e
		if holds, ok := r.filter.eval(vars); holds && ok {
			kept = append(kept, e)
		} else {
			n.Dropped++
		}
	}
	delete(vars, "element")
	return kept, nil
}

// containers calls fn with every value that steps[:len(steps)-1] reaches
// from v, and the last step, which fn applies to it.
func containers(v any, steps []step, fn func(container any, last step) error) error {
	if len(steps) == 1 {
		return fn(v, steps[0])
	}
	st, rest := steps[0], steps[1:]
	switch c := v.(type) {
	case map[string]any:
		if st.kind == stepName {
			if child, ok := c[st.name]; ok {
				return containers(child, rest, fn)
			}
		}
	case []any:
		switch st.kind {
		case stepAll:
			for _, e := range c {
				if err := containers(e, rest, fn); err != nil {
					return err
				}
			}
		case stepIndex:
			if st.index < len(c) {
				return containers(c[st.index], rest, fn)
			}
		}
	}
	return nil
}

// replace sets every child of container that st selects to what fn
// returns for it.
func replace(container any, st step, fn func(any) (any, error)) error {
	switch c := container.(type) {
	case map[string]any:
		if st.kind != stepName {
			return nil
		}
		old, ok := c[st.name]
		if !ok {
			return nil
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		c[st.name] = v
	case []any:
		switch st.kind {
		case stepAll:
			for i, e := range c {
				v, err := fn(e)
				if err != nil {
					return err
				}
				c[i] = v
			}
		case stepIndex:
			if st.index < len(c) {
				v, err := fn(c[st.index])
				if err != nil {
					return err
				}
				c[st.index] = v
			}
		}
	}
	return nil
}

// sealedMark is what both implementations' encrypted fields are turned
// into for comparison: the plaintext, marked.
func sealedMark(plain []byte) any { return "sealed:" + string(plain) }

var jweToken = regexp.MustCompile(`"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"`)

// unsealAll replaces every JWE in out that key opens by its marked
// plaintext, encoded as the reference encodes it.
func unsealAll(t *testing.T, out []byte, key []byte) []byte {
	t.Helper()
	return jweToken.ReplaceAllFunc(out, func(tok []byte) []byte {
		obj, err := jose.ParseEncryptedCompact(string(tok[1:len(tok)-1]), []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
		if err != nil {
			return tok
		}
		plain, err := obj.Decrypt(key)
		if err != nil {
			return tok
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(sealedMark(plain)); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	})
}

// referenceSpecs are rule sets over the shapes of FuzzApplyMatchesReference's seeds.
func referenceSpecs() []Spec {
	return []Spec{
		clinicSpec(),
		harnessSpec(),
		{Filter: `element.owner == claims.sub`, FilterPath: "$[*]", Fields: []FieldSpec{
			{Select: "$[*].secret", Action: ActionRemove},
			{Select: "$[*].x", Action: ActionEncrypt, Key: testKey, KeyID: "k<1>"},
		}},
		{Filter: `has(element.a) && element.a > 1`, FilterPath: "$.a[*].b[*]", Fields: []FieldSpec{
			{Select: "$.a[0].c", Action: ActionEncrypt, Key: testKey},
			{Select: "$.a[*].b[*].d", Action: ActionRemove, When: `has(claims.roles)`},
			{Select: "$.x", Action: ActionEncrypt, Key: testKey},
		}},
		{Filter: `size(element) > 0`, FilterPath: "$[*][*]"},
	}
}

func referenceClaims() []map[string]any {
	return []map[string]any{
		nil,
		{"sub": "dr-lee", "roles": []any{"doctor"}, "scope": "patients:read ssn:read"},
		{"sub": "rita", "roles": []any{"receptionist"}, "scope": "patients:read diagnosis admin"},
		{"sub": "a", "scope": "admin"},
	}
}

// FuzzApplyMatchesReference checks Apply against the implementation it
// replaced, on any body: the same error, counts and, encrypted fields
// opened, the same bytes.
func FuzzApplyMatchesReference(f *testing.F) {
	for _, s := range []string{
		patients,
		string(harnessBody()),
		`{"b":1, "a":{"x":[1,2]}}`,
		`[{"owner":"a","secret":1,"x":{"<b>":[1.50,"\u2028"]}},{"owner":"b"},7,null]`,
		`{"a":[{"b":[{"a":2,"d":1},{"a":1},{"a":"\u0041"}],"c":"x"},{"b":null}],"x":1e400,"a":[{"b":[{"a":3,"d":{}}]}]}`,
		`[[{"k":1}],[],[null,{}],null]`,
		`{"patients":[{"doctor_id":"dr-lee","ssn":"a\"b","ssn":"1"}]}`,
		"{\"patients\":[{\"doctor_id\":\"dr-lee\",\"ssn\":\"\xff\xfe<&>\"}]}",
		`{"patients":{"doctor_id":"x"}}`,
		`{"patients":[`,
		` [ ] `,
		`"str"`,
	} {
		for c := range referenceClaims() {
			f.Add([]byte(s), uint8(c))
		}
	}
	var rules []*Rules
	for _, s := range referenceSpecs() {
		r, err := Compile(s)
		if err != nil {
			f.Fatal(err)
		}
		rules = append(rules, r)
	}
	f.Fuzz(func(t *testing.T, body []byte, c uint8) {
		claimSets := referenceClaims()
		claims := claimSets[int(c)%len(claimSets)]
		for i, r := range rules {
			in := bytes.Clone(body)
			got, gotN, gotErr := r.Apply(in, claims, nil)
			want, wantN, wantErr := referenceApply(r, body, claims, false, func(v any) (any, error) {
				plain, err := json.Marshal(v)
				return sealedMark(plain), err
			})
			if !errors.Is(gotErr, wantErr) || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("rules %d: Apply error %v, reference %v", i, gotErr, wantErr)
			}
			if gotN != wantN {
				t.Fatalf("rules %d: counts %+v, reference %+v", i, gotN, wantN)
			}
			if gotN == (Counts{}) && gotErr == nil && (len(got) != len(in) || len(got) > 0 && &got[0] != &in[0]) {
				t.Fatalf("rules %d: an unchanged body was copied", i)
			}
			if diff := cmp.Diff(string(want), string(unsealAll(t, got, testKey))); diff != "" {
				t.Fatalf("rules %d on %q (-reference +Apply):\n%s", i, body, diff)
			}
		}
	})
}

// FuzzDocument checks the document against encoding/json: it refuses
// what a Decoder refuses, writes back what an Encoder writes (with and
// without HTML escaping), and hands CEL the values Decode makes.
func FuzzDocument(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":{"x":[1,2.5e-3,-0]},"a":true}`,
		"{\"\\u00e9\":\"\\ud800\\udc00\\ud800 \xff \u2028 <&> \\/\\b\\f\\n\\r\\t\\u0001\x7f\"}",
		`[null,false,true,"",{},[]]`,
		`01`, `-`, `1.`, `1e`, `1e+`, `tru`, `nul`, `"\x"`, `"\u12"`, "\"\x01\"", `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := getDocument()
		defer putDocument(d)
		err := d.parse(body)
		want, wantErr := referenceDecode(body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("parse error %v, encoding/json %v", err, wantErr)
		}
		if err != nil {
			return
		}
		root := d.top.c.elems[0]
		if got := root.native(); !reflect.DeepEqual(got, want) {
			t.Fatalf("native = %#v, encoding/json decodes %#v", got, want)
		}
		for _, html := range []bool{false, true} {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(want); err != nil {
				t.Fatal(err)
			}
			if got, want := string(appendValue(nil, root, html)), strings.TrimSuffix(b.String(), "\n"); got != want {
				t.Fatalf("html %v: encoded\n%s\nencoding/json\n%s", html, got, want)
			}
		}
	})
}

// TestDocumentDepth: encoding/json's bound on nesting is ours.
func TestDocumentDepth(t *testing.T) {
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closer := map[string]string{"[": "]", `{"a":`: "}"}[open]
			body := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closer, depth))
			d := getDocument()
			err := d.parse(body)
			putDocument(d)
			_, wantErr := referenceDecode(body)
			if (err == nil) != (wantErr == nil) {
				t.Errorf("depth %d of %s: parse error %v, encoding/json %v", depth, open, err, wantErr)
			}
		}
	}
}

// TestDirSealerHeader: the protected header is go-jose's, byte for
// byte, for every key id.
func TestDirSealerHeader(t *testing.T) {
	for _, kid := range []string{"", "clinic-2026-05", "a<b&\"c\u2028é\x01"} {
		s, err := newDirSealer(testKey, kid)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: testKey, KeyID: kid},
			(&jose.EncrypterOptions{}).WithContentType("json"))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte(`"x"`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := strings.Cut(c, ".")
		if string(s.aad) != want {
			t.Errorf("kid %q: header %s, go-jose's %s", kid, s.aad, want)
		}
		var buf []byte
		tok, err := s.seal([]byte(`"x"`), &buf)
		if err != nil {
			t.Fatal(err)
		}
		obj, err = jose.ParseEncryptedCompact(tok[1:len(tok)-1], []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := obj.Decrypt(testKey); err != nil || string(plain) != `"x"` || obj.Header.KeyID != kid {
			t.Errorf("kid %q: opens to %q (kid %q), %v", kid, plain, obj.Header.KeyID, err)
		}
	}
}
