package fieldrules

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// A document is a response body read once into a light tree: scalars
// keep their tokens as written (a number's digits, a string's quotes and
// escapes), so that most of them are written back by copying, and
// objects hold their members in name order, names unique. It reads and
// writes exactly what encoding/json would with a map[string]any and
// json.Number (decode with UseNumber, encode without HTML escaping):
// the same documents are refused, a repeated name keeps its last value,
// strings are written back with encoding/json's escapes. The rules' CEL
// conditions see elements as those same Go values (native).
//
// A document is pooled: its slabs are reused from one response to the
// next and cleared in between, so that nothing of a response outlives
// it there.
type document struct {
	src string
	// top is an array holding the document as its only element, for
	// the rooted selectors (Selector.rooted).
	top     value
	box     container
	boxElem [1]value

	// Slabs: containers are taken from chunks (pointers to them stay
	// put); members and elements are copied from the parse stacks into
	// their slabs when their object or array closes.
	conts   []container
	members []member
	elems   []value
	stackM  []member
	stackE  []value

	// Scratch buffers: a field's plaintext, its sealed bytes, the
	// rewritten body.
	plain, sealed, out []byte
	// vars are the CEL variables (claims, element); elem is the map an
	// object element is handed to the filter in.
	vars, elem map[string]any
	// judged memoizes the filter by what it reads of an element
	// (filterKey), key is the scratch space of a key.
	judged map[string]bool
	key    []byte
}

// kind is the kind of a JSON value.
type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindObject
	kindArray
)

// value is one JSON value. tok is a number's or string's token as
// written (a string's with its quotes), or an object's or array's text
// as read, which only the filter reads (filterKey): it runs before
// anything changes. c holds an object's or array's contents.
type value struct {
	kind kind
	// plain says what a string's token needs when it is written back.
	plain plain
	tok   string
	c     *container
}

// plain marks a string token (or name) written back as it was read:
// plainJSON when it has no escape and is ASCII, so that it is its own
// value and encoding/json writes it unchanged; plainHTML when, besides,
// it has no <, > or &, so that json.Marshal does too. A token without
// them is looked at again (verbatim) when it is written.
type plain uint8

const (
	plainJSON plain = 1 << iota
	plainHTML
)

// is reports whether a token marked p is written unchanged.
func (p plain) is(html bool) bool {
	return p&plainJSON != 0 && (!html || p&plainHTML != 0)
}

// container is an object's members, in name order with unique names,
// or an array's elements.
type container struct {
	members []member
	elems   []value
}

// member is an object member; name is decoded, plainName says what it
// needs when it is written back.
type member struct {
	name      string
	plainName plain
	v         value
}

// maxDepth is encoding/json's bound on nesting: a deeper document is
// not JSON to it, so not to us either.
const maxDepth = 10000

// pooledBytes bounds what a pooled document keeps: one that grew past it
// on a large body is left to the collector.
const pooledBytes = 256 << 10

var documents = sync.Pool{New: func() any { return new(document) }}

func getDocument() *document { return documents.Get().(*document) }

// putDocument clears d, so that the pool holds no part of a response,
// and pools it unless it grew large.
func putDocument(d *document) {
	// 56 and 32 bytes a member and a value.
	if cap(d.members)*56+cap(d.elems)*32+cap(d.out)+cap(d.plain)+cap(d.sealed)+cap(d.key) > pooledBytes {
		return
	}
	// Slabs are used from the start and cleared when put: past their
	// length they are clear. Scratch buffers are reused from the start
	// for each field, and an earlier one may have reached further.
	clear(d.conts)
	clear(d.members)
	clear(d.elems)
	clear(d.stackM)
	clear(d.stackE)
	clear(d.out[:cap(d.out)])
	clear(d.plain[:cap(d.plain)])
	clear(d.sealed[:cap(d.sealed)])
	clear(d.key[:cap(d.key)])
	clear(d.vars)
	clear(d.elem)
	if len(d.judged) > 1024 {
		// A map does not shrink: leave a large one to the collector.
		d.judged = nil
	}
	clear(d.judged)
	*d = document{conts: d.conts[:0], members: d.members[:0], elems: d.elems[:0], stackM: d.stackM[:0],
		stackE: d.stackE[:0], plain: d.plain[:0], sealed: d.sealed[:0], out: d.out[:0], key: d.key[:0],
		vars: d.vars, elem: d.elem, judged: d.judged}
	documents.Put(d)
}

// parse reads body, which must be exactly one JSON value with optional
// white space around it.
func (d *document) parse(body []byte) error {
	d.src = string(body)
	v, i, ok := d.value(skipSpace(d.src, 0), 0)
	if !ok || skipSpace(d.src, i) != len(d.src) {
		return ErrNotJSON
	}
	d.boxElem[0] = v
	d.box = container{elems: d.boxElem[:]}
	d.top = value{kind: kindArray, c: &d.box}
	return nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// value reads the value at s[i:] and returns it and the offset after
// it.
func (d *document) value(i, depth int) (value, int, bool) {
	s := d.src
	if i >= len(s) {
		return value{}, i, false
	}
	switch c := s[i]; {
	case c == '{':
		return d.object(i+1, depth+1)
	case c == '[':
		return d.array(i+1, depth+1)
	case c == '"':
		j, p, ok := scanString(s, i)
		return value{kind: kindString, plain: p, tok: s[i:j]}, j, ok
	case c == '-' || '0' <= c && c <= '9':
		j, ok := scanNumber(s, i)
		return value{kind: kindNumber, tok: s[i:j]}, j, ok
	case strings.HasPrefix(s[i:], "true"):
		return value{kind: kindTrue}, i + 4, true
	case strings.HasPrefix(s[i:], "false"):
		return value{kind: kindFalse}, i + 5, true
	case strings.HasPrefix(s[i:], "null"):
		return value{kind: kindNull}, i + 4, true
	}
	return value{}, i, false
}

func (d *document) object(i, depth int) (value, int, bool) {
	if depth > maxDepth {
		return value{}, i, false
	}
	s, base, start := d.src, len(d.stackM), i-1
	i = skipSpace(s, i)
	if i < len(s) && s[i] == '}' {
		return value{kind: kindObject, tok: s[start : i+1], c: d.container()}, i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return value{}, i, false
		}
		j, p, ok := scanString(s, i)
		if !ok {
			return value{}, j, false
		}
		name := decodeString(s[i:j], p)
		i = skipSpace(s, j)
		if i >= len(s) || s[i] != ':' {
			return value{}, i, false
		}
		var v value
		if v, i, ok = d.value(skipSpace(s, i+1), depth); !ok {
			return value{}, i, false
		}
		d.stackM = append(d.stackM, member{name: name, plainName: p, v: v})
		if i = skipSpace(s, i); i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			break
		}
		return value{}, i, false
	}
	run := uniqueNames(d.stackM[base:])
	c := d.container()
	at := len(d.members)
	d.members = append(d.members, run...)
	c.members = d.members[at:len(d.members):len(d.members)]
	clear(d.stackM[base:])
	d.stackM = d.stackM[:base]
	return value{kind: kindObject, tok: s[start : i+1], c: c}, i + 1, true
}

func (d *document) array(i, depth int) (value, int, bool) {
	if depth > maxDepth {
		return value{}, i, false
	}
	s, base, start := d.src, len(d.stackE), i-1
	i = skipSpace(s, i)
	if i < len(s) && s[i] == ']' {
		return value{kind: kindArray, tok: s[start : i+1], c: d.container()}, i + 1, true
	}
	for {
		v, j, ok := d.value(i, depth)
		if !ok {
			return value{}, j, false
		}
		d.stackE = append(d.stackE, v)
		if i = skipSpace(s, j); i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == ']' {
			break
		}
		return value{}, i, false
	}
	c := d.container()
	at := len(d.elems)
	d.elems = append(d.elems, d.stackE[base:]...)
	c.elems = d.elems[at:len(d.elems):len(d.elems)]
	clear(d.stackE[base:])
	d.stackE = d.stackE[:base]
	return value{kind: kindArray, tok: s[start : i+1], c: c}, i + 1, true
}

// container takes an empty container from the current chunk, or from a
// new one twice its size when it is full.
func (d *document) container() *container {
	if len(d.conts) == cap(d.conts) {
		d.conts = make([]container, 0, max(32, 2*cap(d.conts)))
	}
	d.conts = d.conts[:len(d.conts)+1]
	return &d.conts[len(d.conts)-1]
}

// uniqueNames sorts an object's members by name and keeps, of a name
// written twice, the last value, as decoding into a map does. The sort
// is stable, so that of equal names the last written comes last.
func uniqueNames(ms []member) []member {
	if len(ms) <= 12 {
		// Insertion sort: objects are small.
		for k := 1; k < len(ms); k++ {
			for j := k; j > 0 && ms[j].name < ms[j-1].name; j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
	} else {
		slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.name, b.name) })
	}
	out := ms[:0]
	for k := range ms {
		if k+1 < len(ms) && ms[k+1].name == ms[k].name {
			continue
		}
		out = append(out, ms[k])
	}
	return out
}

// scanString returns the offset after the string token at s[i] (a
// quote) and how plain it is: the escapes of RFC 8259 §7, no control
// characters, any other byte (encoding/json accepts invalid UTF-8 and
// replaces it).
func scanString(s string, i int) (int, plain, bool) {
	p := plainJSON | plainHTML
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if !careHTML[c] {
			continue
		}
		switch {
		case c == '"':
			return j + 1, p, true
		case c < 0x20:
			return j, 0, false
		case c >= utf8.RuneSelf:
			p = 0
		case c != '\\':
			p &^= plainHTML
		default:
			p = 0
			j++
			if j >= len(s) {
				return j, 0, false
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) {
					return j, 0, false
				}
				for k := j + 1; k <= j+4; k++ {
					if !isHex(s[k]) {
						return k, 0, false
					}
				}
				j += 4
			default:
				return j, 0, false
			}
		}
	}
	return len(s), 0, false
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the offset after the number at s[i] (RFC 8259 §6).
func scanNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && isDigit(s[i]):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, true
}

// verbatim reports whether encoding/json writes s as it is between
// quotes: no quote, backslash or control character, valid UTF-8 without
// U+2028 and U+2029, and no <, > or & when it escapes HTML.
func verbatim(s string, html bool) bool {
	careful := &careJSON
	if html {
		careful = &careHTML
	}
	for i := 0; i < len(s); {
		c := s[i]
		if !careful[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

// careJSON marks the bytes verbatim looks at twice: those encoding/json
// escapes and those that begin a multi-byte character; careHTML adds <,
// > and &.
var careJSON, careHTML = func() (j, h [256]bool) {
	for c := range 256 {
		j[c] = c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf
		h[c] = j[c] || c == '<' || c == '>' || c == '&'
	}
	return j, h
}()

// decodeString is the string a string token stands for. Tokens with
// escapes or invalid UTF-8 go through encoding/json, whose replacements
// are the contract.
func decodeString(tok string, p plain) string {
	body := tok[1 : len(tok)-1]
	if p&plainJSON != 0 || strings.IndexByte(body, '\\') < 0 && utf8.ValidString(body) {
		return body
	}
	var s string
	if err := json.Unmarshal([]byte(tok), &s); err != nil {
		// Unreachable: tok was scanned as a string token.
		return ""
	}
	return s
}

// appendString writes s as encoding/json does.
func appendString(dst []byte, s string, html bool) []byte {
	if verbatim(s, html) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// appendValue writes v as encoding/json writes its native value
// (json.Marshal when html is set, an Encoder without HTML escaping
// otherwise): compact, members in name order, numbers as written.
func appendValue(dst []byte, v value, html bool) []byte {
	switch v.kind {
	case kindNull:
		return append(dst, "null"...)
	case kindFalse:
		return append(dst, "false"...)
	case kindTrue:
		return append(dst, "true"...)
	case kindNumber:
		return append(dst, v.tok...)
	case kindString:
		if v.plain.is(html) || verbatim(v.tok[1:len(v.tok)-1], html) {
			return append(dst, v.tok...)
		}
		return appendString(dst, decodeString(v.tok, v.plain), html)
	case kindObject:
		dst = append(dst, '{')
		for i, m := range v.c.members {
			if i > 0 {
				dst = append(dst, ',')
			}
			if m.plainName.is(html) {
				dst = append(dst, '"')
				dst = append(dst, m.name...)
				dst = append(dst, '"')
			} else {
				dst = appendString(dst, m.name, html)
			}
			dst = append(dst, ':')
			dst = appendValue(dst, m.v, html)
		}
		return append(dst, '}')
	case kindArray:
		dst = append(dst, '[')
		for i, e := range v.c.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e, html)
		}
		return append(dst, ']')
	}
	return dst
}

// native is v as encoding/json decodes it into an any with UseNumber:
// what CEL conditions are written against.
func (v value) native() any {
	switch v.kind {
	case kindFalse:
		return false
	case kindTrue:
		return true
	case kindNumber:
		return json.Number(v.tok)
	case kindString:
		return decodeString(v.tok, v.plain)
	case kindObject:
		return v.c.nativeMembers(make(map[string]any, len(v.c.members)))
	case kindArray:
		a := make([]any, len(v.c.elems))
		for i, e := range v.c.elems {
			a[i] = e.native()
		}
		return a
	}
	return nil
}

// nativeMembers fills m, empty, with an object's members.
func (c *container) nativeMembers(m map[string]any) map[string]any {
	for _, mb := range c.members {
		m[mb.name] = mb.v.native()
	}
	return m
}

// member finds the member named name.
func (c *container) member(name string) (int, bool) {
	if len(c.members) <= 8 {
		for i := range c.members {
			if c.members[i].name == name {
				return i, true
			}
		}
		return 0, false
	}
	return slices.BinarySearchFunc(c.members, name, func(m member, name string) int { return strings.Compare(m.name, name) })
}
