package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting Canonicalize accepts.
const maxDepth = 64

// errNotCanonical is what Canonicalize wraps for input it cannot encode.
var errNotCanonical = errors.New("audit: not encodable as canonical JSON")

// Canonicalize returns the canonical JSON of the JSON value data: the one
// byte string every encoder of the same value must produce, which is what
// the chain hashes. It is:
//
//   - UTF-8, with no whitespace outside strings;
//   - objects with their members sorted by key, comparing the keys' UTF-8
//     bytes (which is Unicode code point order); a key given twice is an
//     error;
//   - arrays in their order;
//   - strings with only these escapes: \" and \\, \b \f \n \r \t, and
//     \u00XX (lowercase hex) for the other characters below U+0020; every
//     other character as itself (so "é", "<" and U+2028 are not escaped);
//   - numbers as integers only, in decimal without a sign for positive
//     values, leading zeros or exponent, within the 64-bit signed range; a
//     fraction or exponent is an error (record fields that need one carry
//     it as a string), because float formatting differs between languages;
//   - true, false and null as themselves.
//
// This is what Python's json.dumps(v, sort_keys=True, separators=(",",
// ":"), ensure_ascii=False) produces for the same value, so an auditor
// can check an export without this code.
func Canonicalize(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b bytes.Buffer
	if err := canonValue(dec, &b, 0); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the value", errNotCanonical)
	}
	return b.Bytes(), nil
}

func canonValue(dec *json.Decoder, b *bytes.Buffer, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", errNotCanonical, maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", errNotCanonical, err)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return canonObject(dec, b, depth)
		case '[':
			b.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				if err := canonValue(dec, b, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return fmt.Errorf("%w: %w", errNotCanonical, err)
			}
			b.WriteByte(']')
			return nil
		}
		return fmt.Errorf("%w: unexpected %v", errNotCanonical, v)
	case string:
		writeString(b, v)
	case json.Number:
		n, err := strconv.ParseInt(v.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: a number that is not a 64-bit integer", errNotCanonical)
		}
		b.WriteString(strconv.FormatInt(n, 10))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("%w: unexpected token %T", errNotCanonical, tok)
	}
	return nil
}

func canonObject(dec *json.Decoder, b *bytes.Buffer, depth int) error {
	type member struct {
		key   string
		value []byte
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %w", errNotCanonical, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: object key is not a string", errNotCanonical)
		}
		var vb bytes.Buffer
		if err := canonValue(dec, &vb, depth+1); err != nil {
			return err
		}
		members = append(members, member{key, vb.Bytes()})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("%w: %w", errNotCanonical, err)
	}
	slices.SortFunc(members, func(x, y member) int { return strings.Compare(x.key, y.key) })
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return fmt.Errorf("%w: key %q given twice", errNotCanonical, m.key)
			}
			b.WriteByte(',')
		}
		writeString(b, m.key)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return nil
}

// writeString writes s as a canonical JSON string. The decoder has turned
// invalid UTF-8 into U+FFFD already.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			if c < utf8.RuneSelf {
				b.WriteByte(c)
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // utf8.RuneError for a bad byte: U+FFFD
			i += size
			continue
		}
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		i++
	}
	b.WriteByte('"')
}

// body is the canonical JSON the hash of r covers: r without PrevHash and
// Hash, its time in UTC.
func body(r Record) ([]byte, error) {
	r.PrevHash, r.Hash = "", ""
	return encode(r)
}

// encode is the canonical JSON of r as it is (an export line).
func encode(r Record) ([]byte, error) {
	r.Time = r.Time.UTC()
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	return Canonicalize(raw)
}
