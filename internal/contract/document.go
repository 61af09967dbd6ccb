package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Document is the contract of an OpenAPI 3.0 or 3.1 document: each
// operation's parameters, request bodies and JSON answers, compiled.
type Document struct {
	ops map[string]*Operation
}

// Operation returns the contract of the document's operation on method
// (upper case) and path template, nil when it has none.
func (d *Document) Operation(method, path string) *Operation {
	if d == nil {
		return nil
	}
	return d.ops[method+" "+path]
}

// documentURL names the document as a schema resource; it is never
// fetched.
const documentURL = "urn:portcullis:openapi"

// maxDocumentSize and maxNodes bound the work a document can cause at
// load (aliases can name one subtree many times).
const (
	maxDocumentSize = 10 << 20
	maxNodes        = 1 << 20
)

// openAPIMethods are the operation fields of a Path Item Object.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// CompileDocument reads an OpenAPI 3.0 or 3.1 document (YAML or JSON)
// and compiles the schemas of its operations' JSON request bodies,
// parameters and JSON answers (responses: a schema of an answer that
// does not compile is Operation.ResponsesErr, not an error of the
// document). The whole document is one schema resource, so a $ref to
// #/components/schemas/... resolves; a $ref outside it is refused. In a
// 3.0 document (whose schemas are draft 4 with extensions) nullable: true
// is read as the type "null" allowed too; 3.1 schemas are JSON Schema
// 2020-12.
func CompileDocument(data []byte) (*Document, error) {
	if len(data) > maxDocumentSize {
		return nil, fmt.Errorf("document of %d bytes is over %d", len(data), maxDocumentSize)
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("not an OpenAPI document")
	}
	version, _ := root["openapi"].(string)
	draft := jsonschema.Draft2020
	switch {
	case strings.HasPrefix(version, "3.0."):
		draft = jsonschema.Draft4
		nullable(root)
	case strings.HasPrefix(version, "3.1."):
	default:
		return nil, errors.New("not an OpenAPI 3.0 or 3.1 document")
	}
	c := newCompiler(draft)
	if err := c.AddResource(documentURL, root); err != nil {
		return nil, err
	}
	d := &Document{ops: map[string]*Operation{}}
	paths, _ := root["paths"].(map[string]any)
	for path, item := range paths {
		if strings.HasPrefix(path, "x-") {
			continue
		}
		itemPtr := "/paths/" + escapeToken(path)
		itemMap, itemPtr := resolve(root, item, itemPtr)
		if itemMap == nil {
			continue
		}
		common := itemMap["parameters"]
		for _, m := range openAPIMethods {
			opv, ok := itemMap[m]
			if !ok {
				continue
			}
			opPtr := itemPtr + "/" + m
			op, err := compileOperation(c, root, opv, opPtr, common, itemPtr+"/parameters")
			if err != nil {
				return nil, fmt.Errorf("paths.%s.%s: %w", path, m, err)
			}
			d.ops[strings.ToUpper(m)+" "+path] = op
		}
	}
	return d, nil
}

// compileOperation compiles one Operation Object's parameters (the path
// item's, overridden by name and location by the operation's, OpenAPI
// 3.1 §4.8.10.1) and request body.
func compileOperation(c *jsonschema.Compiler, root map[string]any, v any, ptr string, common any, commonPtr string) (*Operation, error) {
	opMap, ptr := resolve(root, v, ptr)
	if opMap == nil {
		return &Operation{}, nil
	}
	op := &Operation{}
	byKey := map[string]int{}
	addParams := func(list any, listPtr string) error {
		items, _ := list.([]any)
		for i, pv := range items {
			pm, pptr := resolve(root, pv, fmt.Sprintf("%s/%d", listPtr, i))
			if pm == nil {
				continue
			}
			name, _ := pm["name"].(string)
			in, _ := pm["in"].(string)
			if in == "cookie" || name == "" {
				continue // not checked: cookies belong to the client and the upstream
			}
			p := Parameter{Name: name, In: in, Required: pm["required"] == true || in == "path"}
			if in == "header" {
				p.Name = httpHeaderName(name)
			}
			if sv, ok := pm["schema"]; ok {
				s, err := c.Compile(documentURL + "#" + fragment(pptr+"/schema"))
				if err != nil {
					return fmt.Errorf("parameter %s: %w", name, compileError(err))
				}
				k, item := paramKinds(sv, root)
				p.Schema = &Schema{s: s, kind: k, item: item}
			}
			key := in + " " + strings.ToLower(name)
			if j, dup := byKey[key]; dup {
				op.Parameters[j] = p
			} else {
				byKey[key] = len(op.Parameters)
				op.Parameters = append(op.Parameters, p)
			}
		}
		return nil
	}
	if err := addParams(common, commonPtr); err != nil {
		return nil, err
	}
	if err := addParams(opMap["parameters"], ptr+"/parameters"); err != nil {
		return nil, err
	}
	op.Responses, op.ResponsesErr = compileResponses(c, root, opMap["responses"], ptr+"/responses")
	body, bodyPtr := resolve(root, opMap["requestBody"], ptr+"/requestBody")
	if body == nil {
		return op, nil
	}
	op.BodyRequired = body["required"] == true
	content, _ := body["content"].(map[string]any)
	for _, mt := range sortedKeys(content) {
		ct := Content{Range: strings.ToLower(strings.TrimSpace(strings.Split(mt, ";")[0]))}
		if MediaRangeProblem(ct.Range) != "" {
			return nil, fmt.Errorf("requestBody.content: %s", MediaRangeProblem(ct.Range))
		}
		entry, _ := content[mt].(map[string]any)
		_, sub, _ := strings.Cut(ct.Range, "/")
		if _, has := entry["schema"]; has && (ct.Range == "application/json" || strings.HasSuffix(sub, "+json")) {
			s, err := c.Compile(documentURL + "#" + fragment(bodyPtr+"/content/"+escapeToken(mt)+"/schema"))
			if err != nil {
				return nil, fmt.Errorf("requestBody %s: %w", mt, compileError(err))
			}
			ct.Schema = &Schema{s: s, kind: "object"}
		}
		op.Content = append(op.Content, ct)
	}
	return op, nil
}

// compileResponses compiles the schemas of an operation's JSON answers.
// Its error does not fail the document: it matters only where response
// validation is on, and a document that loaded before answers were
// checked keeps loading with it off.
func compileResponses(c *jsonschema.Compiler, root map[string]any, v any, ptr string) (*Responses, error) {
	responses, _ := v.(map[string]any)
	if len(responses) == 0 {
		return nil, nil
	}
	var b responsesBuilder
	for _, key := range sortedKeys(responses) {
		if strings.HasPrefix(key, "x-") {
			continue
		}
		rm, rptr := resolve(root, responses[key], ptr+"/"+escapeToken(key))
		if rm == nil {
			continue
		}
		r := &Response{}
		content, _ := rm["content"].(map[string]any)
		for _, mt := range sortedKeys(content) {
			ct := Content{Range: strings.ToLower(strings.TrimSpace(strings.Split(mt, ";")[0]))}
			if p := MediaRangeProblem(ct.Range); p != "" {
				return nil, fmt.Errorf("responses.%s.content: %s", key, p)
			}
			entry, _ := content[mt].(map[string]any)
			_, sub, _ := strings.Cut(ct.Range, "/")
			if _, has := entry["schema"]; has && (ct.Range == "application/json" || strings.HasSuffix(sub, "+json")) {
				s, err := c.Compile(documentURL + "#" + fragment(rptr+"/content/"+escapeToken(mt)+"/schema"))
				if err != nil {
					return nil, fmt.Errorf("responses.%s %s: %w", key, mt, compileError(err))
				}
				ct.Schema = &Schema{s: s, kind: "object"}
			}
			r.Content = append(r.Content, ct)
		}
		if err := b.add(key, r); err != nil {
			return nil, fmt.Errorf("responses: %w", err)
		}
	}
	return &b.rs, nil
}

// resolve follows a local $ref (Path Items, Parameters and Request
// Bodies may be references) and returns the object with its pointer.
func resolve(root map[string]any, v any, ptr string) (map[string]any, string) {
	for range 32 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, ptr
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#") {
			return m, ptr
		}
		ptr = ref[1:]
		v = lookup(root, ptr)
	}
	return nil, ptr
}

func escapeToken(t string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}

// fragment writes a JSON pointer as a URI fragment (RFC 6901 §6).
func fragment(ptr string) string { return strings.ReplaceAll(ptr, "%", "%25") }

func httpHeaderName(s string) string {
	return strings.ToLower(s)
}

// nullable rewrites the schemas of a 3.0 document: nullable: true
// (OpenAPI 3.0 §4.7.24.1) becomes "null" among the types, and null among
// an enum's values, which is what draft 4 can say.
func nullable(v any) {
	switch v := v.(type) {
	case map[string]any:
		if n, ok := v["nullable"].(bool); ok {
			delete(v, "nullable")
			if n {
				switch t := v["type"].(type) {
				case string:
					v["type"] = []any{t, "null"}
				}
				if e, ok := v["enum"].([]any); ok {
					v["enum"] = append(e, nil)
				}
			}
		}
		for _, x := range v {
			nullable(x)
		}
	case []any:
		for _, x := range v {
			nullable(x)
		}
	}
}

// decodeDocument reads JSON (numbers exact) or YAML into JSON values.
func decodeDocument(data []byte) (any, error) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return jsonschema.UnmarshalJSON(bytes.NewReader(trimmed))
	}
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	budget := maxNodes
	return nodeValue(&n, &budget)
}

// nodeValue converts a YAML node to a JSON value: mapping keys are
// strings (200: is "200"), numbers json.Number.
func nodeValue(n *yaml.Node, budget *int) (any, error) {
	*budget--
	if *budget < 0 {
		return nil, errors.New("document too complex (aliases)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, errors.New("empty document")
		}
		return nodeValue(n.Content[0], budget)
	case yaml.AliasNode:
		return nodeValue(n.Alias, budget)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := nodeValue(c, budget)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeValue(n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, err
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("line %d: %s is not a JSON number", n.Line, n.Value)
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
