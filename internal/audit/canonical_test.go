package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"sorted keys, no whitespace", `{ "b": 1, "a": [ true, false, null ], "c": {"y": "", "x": -0} }`,
			`{"a":[true,false,null],"b":1,"c":{"x":0,"y":""}}`},
		{"keys by code point", `{"é":1,"z":2,"Z":3,"_":4}`, `{"Z":3,"_":4,"z":2,"é":1}`},
		{"short escapes", `"\"\\\/\b\f\n\r\t"`, `"\"\\/\b\f\n\r\t"`},
		{"other controls lower-case hex", `"\u0001\u001F"`, `"\u0001\u001f"`},
		{"no HTML or unicode escapes", `"<&> \u00e9 \u2028 \u007f"`, "\"<&> é \u2028 \u007f\""},
		{"big integers", `[9223372036854775807,-9223372036854775808]`, `[9223372036854775807,-9223372036854775808]`},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	} {
		got, err := Canonicalize([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: Canonicalize(%s): %v", tc.name, tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s: Canonicalize(%s) = %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
	for name, in := range map[string]string{
		"fraction":      `1.5`,
		"exponent":      `1e3`,
		"too big":       `9223372036854775808`,
		"duplicate key": `{"a":1,"b":2,"a":3}`,
		"two values":    `{} {}`,
		"broken":        `{"a":`,
		"empty":         ``,
		"too deep":      string(bytes.Repeat([]byte("["), maxDepth+2)) + string(bytes.Repeat([]byte("]"), maxDepth+2)),
	} {
		if got, err := Canonicalize([]byte(in)); err == nil {
			t.Errorf("Canonicalize(%s) = %s, want an error (%s)", in, got, name)
		}
	}
}

// FuzzCanonicalize: whatever Canonicalize accepts it returns as valid JSON
// of the same value, and canonical JSON is its own canonical form.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x\u0001"]}`, `"é\u2028"`, `-0`, `{"a":{"b":{}}}`, `[1,2,3]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Canonicalize(in)
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("Canonicalize(%q) = %q, not valid JSON", in, c)
		}
		again, err := Canonicalize(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("Canonicalize is not idempotent on %q: %q then %q (%v)", in, c, again, err)
		}
		var x, y any
		if json.Unmarshal(in, &x) == nil && json.Unmarshal(c, &y) == nil {
			// DeepEqual compares numbers as float64, where -0 == 0.
			if !reflect.DeepEqual(x, y) {
				t.Fatalf("Canonicalize(%q) = %q changed the value", in, c)
			}
		}
	})
}

// TestRecordBodyRoundTrip: a record's body decodes and re-encodes to the
// same bytes, which Verify relies on.
func TestRecordBodyRoundTrip(t *testing.T) {
	r := Record{
		Seq: 7, Time: epoch, Actor: Actor{Kind: KindClient, ClientID: "ops", Roles: []string{"auditor"}},
		Action: "user.set-password", Target: Target{Type: "user", ID: "alice"},
		Before: json.RawMessage(`{"z":1,"a":"<b>"}`), SourceIP: "2001:db8::1",
	}
	b, err := body(r)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"action":"user.set-password","actor":{"client_id":"ops","kind":"client","roles":["auditor"]},` +
		`"before":{"a":"<b>","z":1},"seq":7,"source_ip":"2001:db8::1","target":{"id":"alice","type":"user"},` +
		`"time":"2031-03-04T05:06:07.123456789Z"}`
	if string(b) != want {
		t.Errorf("body = %s\nwant   %s", b, want)
	}
	back, err := decodeBody(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := body(back)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("round trip: %s (%v), want %s", again, err, b)
	}
}
