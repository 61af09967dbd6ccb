package clientauth

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/printable"
)

// maxDNLen bounds a registered subject DN before it is parsed.
const maxDNLen = 1024

// dnKeywords are the attribute type names of RFC 4514 §3, plus those Go's
// pkix.Name.String writes (SERIALNUMBER), so a DN copied from either reads
// back. Any other type is written as a dotted OID.
var dnKeywords = map[string]asn1.ObjectIdentifier{
	"CN":           {2, 5, 4, 3},
	"SERIALNUMBER": {2, 5, 4, 5},
	"C":            {2, 5, 4, 6},
	"L":            {2, 5, 4, 7},
	"ST":           {2, 5, 4, 8},
	"STREET":       {2, 5, 4, 9},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
}

// ParseDN parses a distinguished name in the string form of RFC 4514 §3
// (as tls_client_auth_subject_dn holds it, RFC 8705 §2.1.2) into the
// RDNSequence a certificate's subject encodes: the string lists RDNs
// last-first (§2.1), so the result is reversed. Attribute types are
// matched case-insensitively, as keywords or dotted OIDs; values may use
// the escapes of §2.4 or the #hex BER form of §2.4 when they decode to a
// string. Spaces around ',' '+' '=' are ignored, as most tools write
// them.
func ParseDN(s string) (pkix.RDNSequence, error) {
	if s == "" || len(s) > maxDNLen || !utf8.ValidString(s) {
		return nil, fmt.Errorf("a distinguished name is 1 to %d bytes of UTF-8", maxDNLen)
	}
	var seq pkix.RDNSequence
	var rdn pkix.RelativeDistinguishedNameSET
	p := dnParser{s: s}
	for {
		atv, err := p.attribute()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, atv)
		p.skipSpaces()
		if p.done() {
			seq = append(seq, rdn)
			break
		}
		switch p.s[p.i] {
		case '+':
			// A multi-valued RDN (§2.2).
		case ',', ';':
			// ';' is RFC 1779's separator; RFC 4514 §4 lets a reader
			// accept it.
			seq = append(seq, rdn)
			rdn = nil
		default:
			return nil, fmt.Errorf("unexpected %q at byte %d", p.s[p.i], p.i)
		}
		p.i++
	}
	// RFC 4514 §2.1: the string starts with the last RDN of the sequence.
	for i, j := 0, len(seq)-1; i < j; i, j = i+1, j-1 {
		seq[i], seq[j] = seq[j], seq[i]
	}
	return seq, nil
}

type dnParser struct {
	s string
	i int
}

func (p *dnParser) done() bool { return p.i >= len(p.s) }

func (p *dnParser) skipSpaces() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

// attribute reads one attributeTypeAndValue (§3).
func (p *dnParser) attribute() (pkix.AttributeTypeAndValue, error) {
	p.skipSpaces()
	start := p.i
	for !p.done() && p.s[p.i] != '=' {
		p.i++
	}
	if p.done() {
		return pkix.AttributeTypeAndValue{}, errors.New("an attribute has no '='")
	}
	typ, err := attributeType(strings.TrimSpace(p.s[start:p.i]))
	if err != nil {
		return pkix.AttributeTypeAndValue{}, err
	}
	p.i++ // '='
	p.skipSpaces()
	var v string
	if !p.done() && p.s[p.i] == '#' {
		v, err = p.hexValue()
	} else {
		v, err = p.stringValue()
	}
	if err != nil {
		return pkix.AttributeTypeAndValue{}, err
	}
	// No subject a CA issues holds control characters; one that does
	// could not be written back or shown safely.
	if printable.HasControl(v) {
		return pkix.AttributeTypeAndValue{}, errors.New("a value holds a control character")
	}
	return pkix.AttributeTypeAndValue{Type: typ, Value: v}, nil
}

// attributeType resolves a keyword or a dotted OID (§3 descr / numericoid).
func attributeType(t string) (asn1.ObjectIdentifier, error) {
	if oid, ok := dnKeywords[strings.ToUpper(t)]; ok {
		return oid, nil
	}
	t = strings.TrimPrefix(strings.TrimPrefix(t, "OID."), "oid.")
	parts := strings.Split(t, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("attribute type %q is not a known keyword or a dotted OID", printableType(t))
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || (len(part) > 1 && part[0] == '0') {
			return nil, fmt.Errorf("attribute type %q is not a known keyword or a dotted OID", printableType(t))
		}
		oid[i] = n
	}
	return oid, nil
}

// printableType keeps an operator's typo short in an error message.
func printableType(t string) string {
	if len(t) > 32 {
		return t[:32] + "..."
	}
	return t
}

// stringValue reads a value up to an unescaped ',' '+' or ';', undoing
// the escapes of §2.4 (a special character, or two hex digits per UTF-8
// byte). Unescaped trailing spaces are insignificant.
func (p *dnParser) stringValue() (string, error) {
	var b []byte
	trailing := 0 // unescaped spaces at the end of b
value:
	for !p.done() {
		c := p.s[p.i]
		switch c {
		case ',', '+', ';':
			break value
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", errors.New("a value ends in a lone backslash")
			}
			n := p.s[p.i+1]
			if isHex(n) {
				if p.i+2 >= len(p.s) || !isHex(p.s[p.i+2]) {
					return "", errors.New("a value has a malformed \\XX escape")
				}
				d, _ := hex.DecodeString(p.s[p.i+1 : p.i+3])
				b = append(b, d[0])
				p.i += 3
			} else {
				b = append(b, n)
				p.i += 2
			}
			trailing = 0
			continue
		case '"', '<', '>', 0:
			// §3: these must be escaped in a value.
			return "", fmt.Errorf("a value has an unescaped %q", c)
		}
		b = append(b, c)
		if c == ' ' {
			trailing++
		} else {
			trailing = 0
		}
		p.i++
	}
	b = b[:len(b)-trailing]
	if !utf8.Valid(b) {
		return "", errors.New("a value's escapes are not UTF-8")
	}
	return string(b), nil
}

// hexValue reads the #hex form of §2.4: the BER encoding of the value,
// which must be an ASN.1 string type (those are what subjects hold and
// what compares as text).
func (p *dnParser) hexValue() (string, error) {
	p.i++ // '#'
	start := p.i
	for !p.done() && isHex(p.s[p.i]) {
		p.i++
	}
	der, err := hex.DecodeString(p.s[start:p.i])
	if err != nil || len(der) == 0 {
		return "", errors.New("a #hex value is not an even number of hex digits")
	}
	var v any
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 {
		return "", errors.New("a #hex value is not one BER-encoded value")
	}
	s, ok := v.(string)
	if !ok {
		return "", errors.New("a #hex value must encode a string")
	}
	return s, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// sameDN reports whether the certificate subject raw (DER) is the name
// want: the same RDNs in the same order, each the same set of attribute
// types and values. Types compare as OIDs; values exactly, as strings (a
// subject value of a non-string type never matches). That is stricter
// than the matching rules of RFC 4517 (caseIgnoreMatch for most
// attributes): a registration must spell the name as the CA issues it,
// and a near miss fails closed.
func sameDN(raw []byte, want pkix.RDNSequence) bool {
	var got pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &got); err != nil || len(rest) != 0 {
		return false
	}
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !sameRDN(got[i], want[i]) {
			return false
		}
	}
	return true
}

// sameRDN compares two RDNs as sets (§2.2: the order of a multi-valued
// RDN's attributes is not significant).
func sameRDN(got, want pkix.RelativeDistinguishedNameSET) bool {
	if len(got) != len(want) {
		return false
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for j, g := range got {
			if used[j] || !g.Type.Equal(w.Type) {
				continue
			}
			gs, ok := g.Value.(string)
			ws, _ := w.Value.(string)
			if ok && gs == ws {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
