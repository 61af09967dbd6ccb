// Package scope holds the syntax of OAuth 2.0 scopes (RFC 6749 §3.3), the
// one rule that the configuration, the catalog, the OpenAPI importer, the
// client registry and the authorization server all apply to scope names.
//
// It only judges syntax; which scopes exist and who may receive them is the
// policy package's business.
package scope

import "strings"

// IsToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ), printable ASCII without space, '"' or '\'.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Split splits a space-delimited scope parameter (RFC 6749 §3.3) into its
// tokens, dropping empty items from repeated spaces. It does not check the
// tokens' syntax; IsToken does.
func Split(s string) []string {
	return strings.Fields(s)
}
