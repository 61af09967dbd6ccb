// Package contract checks requests against an API's contract: the JSON
// Schemas of its OpenAPI document or of its configuration, for bodies
// and for path, query and header parameters, and the guards that bound
// a JSON body before it is decoded (depth, keys, items, string length,
// duplicate keys, UTF-8). It checks an upstream's JSON answers the same
// way, against the schemas of their status (Responses).
//
// Schemas are compiled once, when a configuration is loaded; nothing here
// compiles per request. It never fetches anything: a $ref that leaves the
// document is refused, and no file is read. What it says about a request
// (Violation) never quotes more than a short excerpt of the input.
package contract

import (
	"strings"
	"unicode/utf8"
)

// MaxViolations is the most violations one check reports: enough to
// fix a request, too few to turn an answer into an amplifier.
const MaxViolations = 10

// maxExcerpt is the longest excerpt of the input a message quotes, in
// bytes.
const maxExcerpt = 40

// Violation is one way a request breaks its contract.
type Violation struct {
	// In says what part of the request: "body", "query", "header" or
	// "path".
	In string `json:"in"`
	// InstanceLocation is a JSON pointer (RFC 6901) into the body, or
	// the parameter's name for the others.
	InstanceLocation string `json:"instance_location"`
	// Message says what is wrong, in lower case; it quotes at most an
	// excerpt of 40 bytes of the input.
	Message string `json:"message"`
}

// excerpt returns s cut to maxExcerpt bytes on a rune boundary, with
// "..." when cut, as a printable quoted string.
func excerpt(s string) string {
	cut := false
	if len(s) > maxExcerpt {
		n := maxExcerpt
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s, cut = s[:n], true
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			b.WriteString("\\ufffd")
		default:
			b.WriteRune(r)
		}
	}
	if cut {
		b.WriteString("...")
	}
	b.WriteByte('"')
	return b.String()
}
