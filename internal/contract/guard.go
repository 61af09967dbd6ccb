package contract

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Guards bound a JSON body before it is decoded. A zero field means its
// default (DefaultGuards).
type Guards struct {
	// MaxDepth is the deepest nesting of arrays and objects; 0 means 32.
	MaxDepth int
	// MaxKeys is the most members of one object; 0 means 1000.
	MaxKeys int
	// MaxItems is the most elements of one array; 0 means 10000.
	MaxItems int
	// MaxStringLength is the longest string or key, in bytes as sent
	// (escapes counted as written); 0 means 64 KiB.
	MaxStringLength int
}

// The defaults of Guards, and the highest MaxDepth a configuration may
// set: the decoder and the validator recurse once per level.
const (
	DefaultMaxDepth        = 32
	DefaultMaxKeys         = 1000
	DefaultMaxItems        = 10000
	DefaultMaxStringLength = 64 << 10
	MaxMaxDepth            = 1000
)

// maxNumberLength bounds a number literal. A longer one is no quantity
// any API means, and the validator turns numbers into exact rationals,
// whose cost grows with the digits and the exponent.
const maxNumberLength = 64

// WithDefaults returns g with every zero field set to its default.
func (g Guards) WithDefaults() Guards {
	set := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	set(&g.MaxDepth, DefaultMaxDepth)
	set(&g.MaxKeys, DefaultMaxKeys)
	set(&g.MaxItems, DefaultMaxItems)
	set(&g.MaxStringLength, DefaultMaxStringLength)
	return g
}

// frame is one open array or object of a scan.
type frame struct {
	object bool
	// count is the members or elements seen so far.
	count int
	// key is the current member's name (objects), for locations.
	key []byte
	// keys starts this object's names in scanner.keys; set holds them
	// once there are too many to compare one by one.
	keys int
	set  map[string]struct{}
}

// scanner is the state of one Scan, pooled: a scan allocates only for a
// key with escapes or an object with many members.
type scanner struct {
	g      Guards
	data   []byte
	pos    int
	stack  []frame
	keys   [][]byte
	unesc  []byte
	failed *Violation
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// linearKeys is how many names of one object are compared one by one
// before they go into a set.
const linearKeys = 16

// Scan checks that data is one well-formed JSON value (RFC 8259) within
// the guards, without building it: the nesting is an explicit stack
// bounded by MaxDepth, so a 10,000-deep array costs 33 frames. Invalid
// UTF-8, a lone surrogate escape and a duplicate object key are refused
// whatever the guards (RFC 8259 §4 leaves duplicates undefined, and
// parsers disagree about them). It returns nil when data passes, else
// the first problem found, located by a JSON pointer.
func (g Guards) Scan(data []byte) *Violation {
	s := scanners.Get().(*scanner)
	s.g, s.data, s.pos, s.failed = g.WithDefaults(), data, 0, nil
	v := s.run()
	for i := range s.stack {
		s.stack[i] = frame{}
	}
	clear(s.keys)
	s.stack, s.keys, s.unesc, s.data = s.stack[:0], s.keys[:0], s.unesc[:0], nil
	if cap(s.keys) <= 1024 && cap(s.stack) <= MaxMaxDepth {
		scanners.Put(s)
	}
	return v
}

func (s *scanner) run() *Violation {
	s.skipSpace()
	if s.pos == len(s.data) {
		return s.fail("the body is empty: want a JSON value")
	}
	for {
		if !s.value() {
			return s.failed
		}
		// After a value: close what it ends, then expect the next.
		for {
			s.skipSpace()
			if len(s.stack) == 0 {
				if s.pos != len(s.data) {
					return s.fail("unexpected data after the JSON value")
				}
				return nil
			}
			top := &s.stack[len(s.stack)-1]
			if s.pos == len(s.data) {
				return s.fail("unexpected end of the body")
			}
			c := s.data[s.pos]
			if c == ',' {
				s.pos++
				s.skipSpace()
				if top.object && !s.member() || !top.object && !s.item() {
					return s.failed
				}
				break
			}
			if top.object && c == '}' || !top.object && c == ']' {
				s.pos++
				s.pop()
				continue
			}
			return s.fail(fmt.Sprintf("unexpected %s after a value", describe(c)))
		}
	}
}

// value reads one value; an array or object is opened, and its first
// member read up to its value, which the loop in run then reads.
func (s *scanner) value() bool {
	for {
		s.skipSpace()
		if s.pos == len(s.data) {
			s.fail("unexpected end of the body")
			return false
		}
		c := s.data[s.pos]
		switch {
		case c == '{' || c == '[':
			if len(s.stack) >= s.g.MaxDepth {
				s.fail(fmt.Sprintf("nested deeper than %d levels", s.g.MaxDepth))
				return false
			}
			s.pos++
			s.stack = append(s.stack, frame{object: c == '{', keys: len(s.keys)})
			s.skipSpace()
			if s.pos < len(s.data) && (c == '{' && s.data[s.pos] == '}' || c == '[' && s.data[s.pos] == ']') {
				s.pos++
				s.pop()
				return true
			}
			if c == '{' {
				if !s.member() {
					return false
				}
				continue // the member's value
			}
			if !s.item() {
				return false
			}
			continue // the first element
		case c == '"':
			start := s.pos
			if !s.str() {
				return false
			}
			if s.pos-start-2 > s.g.MaxStringLength {
				s.fail(fmt.Sprintf("string longer than %d bytes", s.g.MaxStringLength))
				return false
			}
			return true
		case c == '-' || c >= '0' && c <= '9':
			return s.number()
		case c == 't':
			return s.literal("true")
		case c == 'f':
			return s.literal("false")
		case c == 'n':
			return s.literal("null")
		default:
			s.fail(fmt.Sprintf("unexpected %s where a value belongs", describe(c)))
			return false
		}
	}
}

// item counts one more element of the array on top.
func (s *scanner) item() bool {
	top := &s.stack[len(s.stack)-1]
	top.count++
	if top.count > s.g.MaxItems {
		s.fail(fmt.Sprintf("array of more than %d items", s.g.MaxItems))
		return false
	}
	return true
}

// member reads an object member's name and colon, counts it and refuses
// it when the object has it already.
func (s *scanner) member() bool {
	top := &s.stack[len(s.stack)-1]
	if s.pos == len(s.data) || s.data[s.pos] != '"' {
		if s.pos == len(s.data) {
			s.fail("unexpected end of the body")
		} else {
			s.fail(fmt.Sprintf("unexpected %s where a member name belongs", describe(s.data[s.pos])))
		}
		return false
	}
	start := s.pos
	escaped, ok := s.strEscaped()
	if !ok {
		return false
	}
	if s.pos-start-2 > s.g.MaxStringLength {
		s.fail(fmt.Sprintf("member name longer than %d bytes", s.g.MaxStringLength))
		return false
	}
	name := s.data[start+1 : s.pos-1]
	if escaped {
		// "a" and "\u0061" are one name: compare decoded names.
		name = unescape(nil, name)
	}
	top.count++
	top.key = name
	if top.count > s.g.MaxKeys {
		s.fail(fmt.Sprintf("object of more than %d members", s.g.MaxKeys))
		return false
	}
	if s.duplicate(top, name) {
		s.fail("duplicate member name " + excerpt(string(name)))
		return false
	}
	s.skipSpace()
	if s.pos == len(s.data) || s.data[s.pos] != ':' {
		s.fail("expected : after a member name")
		return false
	}
	s.pos++
	return true
}

// duplicate records name in top's names and reports whether it was
// there already.
func (s *scanner) duplicate(top *frame, name []byte) bool {
	if top.set != nil {
		if _, dup := top.set[string(name)]; dup {
			return true
		}
		top.set[string(name)] = struct{}{}
		return false
	}
	for _, k := range s.keys[top.keys:] {
		if bytes.Equal(k, name) {
			return true
		}
	}
	s.keys = append(s.keys, name)
	if len(s.keys)-top.keys > linearKeys {
		top.set = make(map[string]struct{}, 2*linearKeys)
		for _, k := range s.keys[top.keys:] {
			top.set[string(k)] = struct{}{}
		}
		s.keys = s.keys[:top.keys]
	}
	return false
}

// pop closes the array or object on top; it then counts as one element
// of an enclosing array.
func (s *scanner) pop() {
	top := &s.stack[len(s.stack)-1]
	if top.object && top.set == nil {
		clear(s.keys[top.keys:])
		s.keys = s.keys[:top.keys]
	}
	*top = frame{}
	s.stack = s.stack[:len(s.stack)-1]
}

func (s *scanner) str() bool {
	_, ok := s.strEscaped()
	return ok
}

// strEscaped reads a string, checking its escapes and its UTF-8, and
// reports whether it held an escape.
func (s *scanner) strEscaped() (escaped, ok bool) {
	d := s.data
	i := s.pos + 1
	for {
		// The common run: printable ASCII without quote or backslash.
		for i < len(d) && d[i] >= 0x20 && d[i] < 0x80 && d[i] != '"' && d[i] != '\\' {
			i++
		}
		if i == len(d) {
			s.pos = i
			s.fail("unterminated string")
			return false, false
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return escaped, true
		case c == '\\':
			escaped = true
			if i+1 == len(d) {
				s.pos = i
				s.fail("unterminated string")
				return false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				n, okEsc := unicodeEscape(d, i)
				if !okEsc {
					s.pos = i
					s.fail("invalid \\u escape: four hex digits, surrogates in pairs")
					return false, false
				}
				i += n
			default:
				s.pos = i
				s.fail("invalid escape in a string")
				return false, false
			}
		case c < 0x20:
			s.pos = i
			s.fail("control character in a string (RFC 8259 §7: escape it)")
			return false, false
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n <= 1 {
				s.pos = i
				s.fail("invalid UTF-8 in a string (RFC 8259 §8.1)")
				return false, false
			}
			i += n
		}
	}
}

// unicodeEscape reads \uXXXX at d[i:] (and its low surrogate after a
// high one); it returns the bytes read, refusing a lone surrogate, which
// decoders turn into U+FFFD or keep, as they like.
func unicodeEscape(d []byte, i int) (int, bool) {
	r, ok := hex4(d, i+2)
	if !ok {
		return 0, false
	}
	if !utf16.IsSurrogate(r) {
		return 6, true
	}
	if r >= 0xdc00 || i+12 > len(d) || d[i+6] != '\\' || d[i+7] != 'u' {
		return 0, false
	}
	r2, ok := hex4(d, i+8)
	if !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
		return 0, false
	}
	return 12, true
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape appends the decoded form of a string's contents, which
// strEscaped has checked, to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(raw, i+8)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default:
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// number reads a number (RFC 8259 §6).
func (s *scanner) number() bool {
	d, start, i := s.data, s.pos, s.pos
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		s.pos = i
		s.fail("invalid number")
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			s.pos = i
			s.fail("invalid number")
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.pos = i
			s.fail("invalid number")
			return false
		}
	}
	if i-start > maxNumberLength {
		s.fail(fmt.Sprintf("number longer than %d characters", maxNumberLength))
		return false
	}
	s.pos = i
	return true
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		s.fail("invalid literal: want true, false or null")
		return false
	}
	s.pos += len(lit)
	return true
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// fail records the first problem, located where the scan is.
func (s *scanner) fail(msg string) *Violation {
	if s.failed == nil {
		s.failed = &Violation{In: "body", InstanceLocation: s.location(), Message: msg}
	}
	return s.failed
}

// location is the JSON pointer of the value the scan is in: the
// current member of each object, the current element of each array.
func (s *scanner) location() string {
	var b []byte
	for _, f := range s.stack {
		if f.object {
			if f.key != nil {
				b = appendToken(append(b, '/'), f.key)
			}
			continue
		}
		b = append(b, '/')
		n := f.count - 1
		if n < 0 {
			n = 0
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

// appendToken appends a member name as a pointer's reference token,
// cut to an excerpt (a location must not echo a long name whole).
func appendToken(b, name []byte) []byte {
	cut := false
	if len(name) > maxExcerpt {
		n := maxExcerpt
		for n > 0 && !utf8.RuneStart(name[n]) {
			n--
		}
		name, cut = name[:n], true
	}
	for _, c := range name {
		switch c {
		case '~':
			b = append(b, "~0"...)
		case '/':
			b = append(b, "~1"...)
		default:
			b = append(b, c)
		}
	}
	if cut {
		b = append(b, "..."...)
	}
	return b
}

// describe names a byte of the input for a message without echoing
// more than it.
func describe(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return strconv.Quote(string(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
