// Package printable decides whether operator- or client-supplied text is
// safe to store, log and echo: free of control characters that could split
// a log line, a header or a terminal's output.
//
// It is the one definition used by the configuration, the catalog and the
// registries; it never rewrites text, it only judges it.
package printable

import "strings"

// IsControl reports whether r is a C0 control (U+0000–U+001F), DEL
// (U+007F) or a C1 control (U+0080–U+009F). C1 controls count too: some
// terminals act on them as on escape sequences.
func IsControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0
}

// HasControl reports whether s holds any rune for which IsControl is true.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, IsControl)
}

// IsSpaceOrControl reports white space (ASCII, and the Unicode spaces a
// name could hide behind: NEL, NBSP, U+2000–U+200B, the ideographic space)
// or a control character. Names, audiences and claim names must have
// neither.
func IsSpaceOrControl(r rune) bool {
	return r <= ' ' || IsControl(r) || r == 0xa0 || r >= 0x2000 && r <= 0x200b || r == 0x3000
}
