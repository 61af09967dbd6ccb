package openapi

import (
	"fmt"
	"net/url"
	"strings"
)

// server reads the document's first server URL: its path without a
// trailing slash ("" when there is no server or its path is "/"), and,
// when the URL is absolute http or https, the URL itself without query,
// fragment or trailing slash ("" otherwise).
//
// OpenAPI 3.1 §4.8.5: the URL may be relative (to where the document is
// served, which the importer does not know: it is read against "/") and
// may hold {variables}, replaced by their defaults.
func (p *parser) server(doc *mapping) (basePath, serverURL string, err error) {
	n, ok := doc.get("servers")
	if !ok {
		return "", "", nil
	}
	servers, err := p.sequence(n, "servers")
	if err != nil || len(servers) == 0 {
		return "", "", err
	}
	server, err := p.mapping(servers[0], "servers[0]")
	if err != nil {
		return "", "", err
	}
	un, ok := server.get("url")
	if !ok {
		return "", "", &Error{Path: "servers[0]", Line: server.node.Line, Msg: "no url", Err: ErrInvalid}
	}
	raw, err := p.scalar(un, "servers[0].url")
	if err != nil {
		return "", "", err
	}
	expanded, err := p.serverVariables(server, raw, un.Line)
	if err != nil {
		return "", "", err
	}
	u, err := url.Parse(expanded)
	if err != nil {
		return "", "", &Error{Path: "servers[0].url", Line: un.Line, Msg: fmt.Sprintf("%s is not a url", quote(expanded)), Err: ErrInvalid}
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil {
		abs := *u
		abs.RawQuery, abs.ForceQuery, abs.Fragment, abs.RawFragment = "", false, "", ""
		abs.Path, abs.RawPath = strings.TrimRight(u.Path, "/"), strings.TrimRight(u.RawPath, "/")
		serverURL = abs.String()
	}
	if !u.IsAbs() && u.Host == "" {
		u = (&url.URL{Path: "/"}).ResolveReference(u)
	}
	return strings.TrimRight(u.Path, "/"), serverURL, nil
}

// serverVariables replaces each {name} of a server URL with the default of
// servers[0].variables.name.
func (p *parser) serverVariables(server *mapping, raw string, line int) (string, error) {
	if !strings.ContainsAny(raw, "{}") {
		return raw, nil
	}
	var vars *mapping
	if n, ok := server.get("variables"); ok {
		var err error
		if vars, err = p.mapping(n, "servers[0].variables"); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	rest := raw
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return "", &Error{Path: "servers[0].url", Line: line, Msg: fmt.Sprintf("%s has an unbalanced }", quote(raw)), Err: ErrInvalid}
			}
			b.WriteString(rest)
			return b.String(), nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 || strings.IndexByte(rest[:open], '}') >= 0 {
			return "", &Error{Path: "servers[0].url", Line: line, Msg: fmt.Sprintf("%s has unbalanced braces", quote(raw)), Err: ErrInvalid}
		}
		name := rest[open+1 : open+end]
		var value *mapping
		if vars != nil {
			if vn, ok := vars.get(name); ok {
				var err error
				if value, err = p.mapping(vn, join("servers[0].variables", name)); err != nil {
					return "", err
				}
			}
		}
		if value == nil {
			return "", &Error{Path: "servers[0].url", Line: line, Msg: fmt.Sprintf("variable %s is not defined in servers[0].variables", quote(name)), Err: ErrInvalid}
		}
		dn, ok := value.get("default")
		if !ok {
			return "", &Error{Path: join("servers[0].variables", name), Line: value.node.Line, Msg: "no default", Err: ErrInvalid}
		}
		def, err := p.scalar(dn, join(join("servers[0].variables", name), "default"))
		if err != nil {
			return "", err
		}
		b.WriteString(rest[:open])
		b.WriteString(def)
		rest = rest[open+end+1:]
	}
}
