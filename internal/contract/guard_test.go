package contract

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	small := Guards{MaxDepth: 3, MaxKeys: 2, MaxItems: 3, MaxStringLength: 5}
	for _, tc := range []struct {
		name string
		g    Guards
		body string
		// loc and msg are the violation wanted; empty msg: none.
		loc, msg string
	}{
		{name: "object", body: `{"a":[1,-2.5e3,true,false,null,"x\u00e9\ud83d\ude00"],"b":{}}`},
		{name: "scalar", body: ` 12 `},
		{name: "depth 10000", body: strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
			loc: "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0", msg: "nested deeper than 32 levels"},
		{name: "depth at limit", g: small, body: `[[[1]]]`},
		{name: "depth over", g: small, body: `{"a":[[[1]]]}`, loc: "/a/0/0", msg: "nested deeper than 3 levels"},
		{name: "duplicate", body: `{"a":1,"b":{"a":1},"a":2}`, loc: "/a", msg: `duplicate member name "a"`},
		{name: "duplicate escaped", body: `{"a":1,"\u0061":2}`, loc: "/a", msg: `duplicate member name "a"`},
		{name: "duplicate in a big object", body: bigObject(100) + `}`, loc: "/k7", msg: `duplicate member name "k7"`},
		{name: "keys", g: small, body: `{"a":1,"b":2,"c":3}`, loc: "/c", msg: "object of more than 2 members"},
		{name: "items", g: small, body: `[1,2,3,[4]]`, loc: "/3", msg: "array of more than 3 items"},
		{name: "string", g: small, body: `["123456"]`, loc: "/0", msg: "string longer than 5 bytes"},
		{name: "key length", g: small, body: `{"123456":1}`, loc: "", msg: "member name longer than 5 bytes"},
		{name: "invalid utf-8", body: "[\"a\xc3\"]", loc: "/0", msg: "invalid UTF-8 in a string (RFC 8259 §8.1)"},
		{name: "lone surrogate", body: `["\ud83d"]`, loc: "/0", msg: `invalid \u escape: four hex digits, surrogates in pairs`},
		{name: "control", body: "[\"a\tb\"]", loc: "/0", msg: "control character in a string (RFC 8259 §7: escape it)"},
		{name: "trailing", body: `{} {}`, msg: "unexpected data after the JSON value"},
		{name: "trailing comma", body: `[1,]`, loc: "/1", msg: `unexpected "]" where a value belongs`},
		{name: "empty", body: ``, msg: "the body is empty: want a JSON value"},
		{name: "long number", body: `[1` + strings.Repeat("0", 100) + `]`, loc: "/0", msg: "number longer than 64 characters"},
		{name: "leading zero", body: `[01]`, loc: "/0", msg: `unexpected "1" after a value`},
		{name: "long key echoed as an excerpt", body: `{"` + strings.Repeat("k", 100) + `":1,"` + strings.Repeat("k", 100) + `":2}`,
			loc: "/" + strings.Repeat("k", 40) + "...", msg: `duplicate member name "` + strings.Repeat("k", 40) + `..."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.g.Scan([]byte(tc.body))
			switch {
			case tc.msg == "" && v != nil:
				t.Fatalf("Scan = %+v, want nil", v)
			case tc.msg != "" && v == nil:
				t.Fatalf("Scan = nil, want %q at %q", tc.msg, tc.loc)
			case v != nil && (v.Message != tc.msg || v.InstanceLocation != tc.loc):
				t.Errorf("Scan = %q at %q, want %q at %q", v.Message, v.InstanceLocation, tc.msg, tc.loc)
			}
		})
	}
}

func bigObject(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + itoa(i) + `":1`)
	}
	b.WriteString(`,"k7":2`)
	return b.String()
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestScanAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	body := benchBody(t)
	g := Guards{}
	g.Scan(body)
	if n := testing.AllocsPerRun(100, func() { g.Scan(body) }); n > 0 {
		t.Errorf("Scan allocates %v times per run, want 0", n)
	}
}

// FuzzBodyGuards checks Scan against encoding/json: whatever Scan
// passes, the decoder reads; and Scan never panics or recurses.
func FuzzBodyGuards(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c"}]}`, `[]`, `"\ud83d\ude00"`, `{"a":1,"a":2}`, "[\"\xff\"]", `-0.5e+10`, `[[[[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := Guards{MaxDepth: 8, MaxKeys: 16, MaxItems: 16, MaxStringLength: 64}
		v := g.Scan(data)
		if v != nil {
			if len(v.Message) > 200 {
				t.Errorf("message of %d bytes", len(v.Message))
			}
			return
		}
		var x any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("Scan passed %q, which encoding/json refuses: %v", data, err)
		}
		if dec.More() {
			t.Fatalf("Scan passed %q with data after the value", data)
		}
	})
}
