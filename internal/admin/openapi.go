package admin

import (
	"embed"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
)

// componentFS holds the OpenAPI components, one file per concept (each a
// {"schemas": {...}} object, common.json also the security schemes); the
// paths are built from the route table, so a route cannot exist
// undocumented.
//
//go:embed openapi/*.json
var componentFS embed.FS

// components is the merged components object of componentFS.
var components = mergeComponents()

func mergeComponents() []byte {
	merged := map[string]map[string]json.RawMessage{}
	files, err := componentFS.ReadDir("openapi")
	if err != nil {
		panic("admin: openapi components: " + err.Error()) // embedded: a test catches this
	}
	for _, f := range files {
		b, err := componentFS.ReadFile("openapi/" + f.Name())
		if err != nil {
			panic("admin: openapi components: " + err.Error())
		}
		var part map[string]map[string]json.RawMessage
		if err := json.Unmarshal(b, &part); err != nil {
			panic("admin: openapi components " + f.Name() + ": " + err.Error())
		}
		for section, entries := range part {
			if merged[section] == nil {
				merged[section] = map[string]json.RawMessage{}
			}
			for name := range entries {
				if _, dup := merged[section][name]; dup {
					panic("admin: openapi component " + section + "." + name + " is defined twice")
				}
			}
			maps.Copy(merged[section], entries)
		}
	}
	b, err := json.Marshal(merged)
	if err != nil {
		panic("admin: openapi components: " + err.Error())
	}
	return b
}

// queryDescriptions describe the query parameters the routes read.
var queryDescriptions = map[string]string{
	"limit":         "page size, 1 to 200 (default 50)",
	"cursor":        "next_cursor of the previous page (opaque)",
	"actor":         "the actor's subject or client id",
	"action":        `an action ("client.create"), or a prefix with ".*" ("client.*")`,
	"target":        `a target type ("client") or type:id ("client:reports")`,
	"since":         "RFC 3339 time, inclusive",
	"until":         "RFC 3339 time, exclusive",
	"q":             "text in the name or description (case-insensitive)",
	"tag":           "a tag the version carries",
	"state":         "a lifecycle state: draft, published, deprecated or retired",
	"gateway_group": "a gateway group serving the version",
}

// openAPIDocument returns the OpenAPI 3.1 document of the route table.
func openAPIDocument() []byte {
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		path, params := openAPIPath(rt.path)
		for _, q := range rt.query {
			params = append(params, map[string]any{
				"name": q, "in": "query", "required": false,
				"description": queryDescriptions[q], "schema": map[string]any{"type": "string"},
			})
		}
		if rt.etag && (rt.method == "DELETE" || rt.method == "PUT" || rt.method == "PATCH" || rt.method == "POST" && strings.Contains(rt.path, "{")) {
			params = append(params, map[string]any{
				"name": "If-Match", "in": "header", "required": false,
				"description": "the ETag last read; 412 when the resource changed since",
				"schema":      map[string]any{"type": "string"},
			})
		}
		roles := make([]string, len(rt.roles))
		for i, r := range rt.roles {
			roles[i] = string(r)
		}
		ok := map[string]any{"description": "success"}
		if rt.response != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(rt.response)}}
		}
		if rt.etag && rt.status != 204 {
			ok["headers"] = map[string]any{"ETag": map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		responses := map[string]any{strconv.Itoa(rt.status): ok}
		for _, e := range []struct {
			code, what string
		}{
			{"400", "malformed request"}, {"401", "no or invalid token"}, {"403", "the token lacks every role of this route"},
			{"404", "no such resource, or the part does not run on this node"}, {"409", "exists already"},
			{"412", "If-Match does not match, or the catalog changed since it was read"},
			{"413", "the body is too large"}, {"422", "the catalog's rules refuse the write; every reason is in detail"},
			{"500", "internal error (the request id is logged)"},
		} {
			responses[e.code] = map[string]any{"description": e.what,
				"content": map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}}
		}
		op := map[string]any{
			"operationId":        rt.op,
			"summary":            rt.summary,
			"x-portcullis-roles": roles,
			"security":           []any{map[string]any{"adminToken": roles}},
			"responses":          responses,
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.request != "" {
			op["requestBody"] = map[string]any{"required": rt.op != "rotateKeys",
				"content": map[string]any{"application/json": map[string]any{"schema": ref(rt.request)}}}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Portcullis admin API",
			"version":     "1",
			"description": "See docs/admin-api.md. Callers present an access token of the issuer with audience " + Audience + " and admin roles as scopes, or the break-glass token.",
		},
		"paths":      paths,
		"components": json.RawMessage(components),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("admin: openapi document: " + err.Error()) // static input: a test catches this
	}
	return b
}

// openAPIPath turns a ServeMux path into an OpenAPI path and its path
// parameters: {key...} becomes {key}.
func openAPIPath(p string) (string, []any) {
	var params []any
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, "{"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
			segs[i] = "{" + name + "}"
			params = append(params, map[string]any{"name": name, "in": "path", "required": true,
				"schema": map[string]any{"type": "string"}})
		}
	}
	return strings.Join(segs, "/"), params
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}
