package openapi

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/scope"
)

// scheme is what the importer needs of a Security Scheme Object.
type scheme struct {
	// scoped is true for oauth2 and openIdConnect, the schemes whose
	// requirements list OAuth scopes; the others (apiKey, http,
	// mutualTLS) list roles at most (OpenAPI 3.1 §4.8.30), which the
	// gateway does not check.
	scoped bool
}

// schemeTypes are the Security Scheme types of OpenAPI 3.0 and 3.1
// (mutualTLS is 3.1's), each mapped to whether its requirements name
// scopes.
var schemeTypes = map[string]bool{
	"apiKey":        false,
	"http":          false,
	"mutualTLS":     false,
	"oauth2":        true,
	"openIdConnect": true,
}

// securitySchemes reads components.securitySchemes, following $refs.
func (p *parser) securitySchemes(doc *mapping) error {
	p.schemes = map[string]scheme{}
	cn, ok := doc.get("components")
	if !ok {
		return nil
	}
	components, err := p.mapping(cn, "components")
	if err != nil {
		return err
	}
	sn, ok := components.get("securitySchemes")
	if !ok {
		return nil
	}
	schemes, err := p.mapping(sn, "components.securitySchemes")
	if err != nil {
		return err
	}
	for i, k := range schemes.keys {
		n, loc, err := p.resolve(schemes.vals[i], join("components.securitySchemes", k.Value))
		if err != nil {
			return err
		}
		m, err := p.mapping(n, loc)
		if err != nil {
			return err
		}
		tn, ok := m.get("type")
		if !ok {
			return &Error{Path: loc, Line: m.node.Line, Msg: "no type", Err: ErrInvalid}
		}
		typ, err := p.scalar(tn, join(loc, "type"))
		if err != nil {
			return err
		}
		scoped, known := schemeTypes[typ]
		if !known {
			return &Error{Path: join(loc, "type"), Line: tn.Line, Msg: fmt.Sprintf("unknown security scheme type %s, want apiKey, http, mutualTLS, oauth2 or openIdConnect", quote(typ)), Err: ErrInvalid}
		}
		p.schemes[k.Value] = scheme{scoped: scoped}
	}
	return nil
}

// requirements is what a security field says about an operation.
type requirements struct {
	// public: the list is empty or holds an empty requirement, so a call
	// without credentials is allowed (OpenAPI 3.1 §4.8.10.2 security).
	public bool
	// scopes are those of the first requirement naming an oauth2 or
	// openIdConnect scheme (the union over such schemes in it: a
	// requirement's schemes must all be satisfied).
	scopes []string
}

// requirements reads a security field: a list of Security Requirement
// Objects, alternatives of which one must be satisfied.
func (p *parser) requirements(n *yaml.Node, loc string) (*requirements, error) {
	items, err := p.sequence(n, loc)
	if err != nil {
		return nil, err
	}
	r := &requirements{public: len(items) == 0}
	found := false
	for i, item := range items {
		iloc := fmt.Sprintf("%s[%d]", loc, i)
		m, err := p.mapping(item, iloc)
		if err != nil {
			return nil, err
		}
		if len(m.keys) == 0 {
			r.public = true
			continue
		}
		var scopes []string
		scoped := false
		for j, k := range m.keys {
			s, ok := p.schemes[k.Value]
			if !ok {
				return nil, &Error{Path: iloc, Line: k.Line, Msg: fmt.Sprintf("unknown security scheme %s", quote(k.Value)), Err: ErrInvalid}
			}
			vals, err := p.sequence(m.vals[j], join(iloc, k.Value))
			if err != nil {
				return nil, err
			}
			for v, vn := range vals {
				vloc := fmt.Sprintf("%s[%d]", join(iloc, k.Value), v)
				sc, err := p.scalar(vn, vloc)
				if err != nil {
					return nil, err
				}
				if !s.scoped {
					continue
				}
				if !scope.IsToken(sc) {
					return nil, &Error{Path: vloc, Line: vn.Line, Msg: fmt.Sprintf("%s is not an oauth scope (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)", quote(sc)), Err: ErrInvalid}
				}
				if !slices.Contains(scopes, sc) {
					scopes = append(scopes, sc)
				}
			}
			scoped = scoped || s.scoped
		}
		if scoped && !found {
			found, r.scopes = true, scopes
		}
	}
	if r.public {
		// A public operation is called without a token, so it has no
		// scopes to require.
		r.scopes = nil
	}
	return r, nil
}
