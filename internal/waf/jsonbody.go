package waf

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/tidwall/gjson"
)

// jsonBody replaces Coraza's JSON body processor. It flattens a document
// the same way (json.a.b for members, json.a.0 for array elements, json.a
// holding an array's length, the same parser, limits and errors) with two
// differences, both about what the rules read:
//
//   - An element repeated in an array is inspected once. Every rule is a
//     function of a value and of its name, and names that differ only in an
//     array index say the same thing, so {"lines":[L, L, L]} costs what
//     {"lines":[L]} does, not three times as much. Without this the cost of
//     a request grows with the length of its arrays, not with what they
//     hold: a 2 KB order with 22 identical lines was 146 values for every
//     one of ~200 phase-2 rules.
//   - An empty object or array is an argument of its own (json.user.$nin
//     with "" or "0"), so its name reaches the rules that read
//     ARGS_NAMES; Coraza drops it, and {"user":{"$nin":[]}} went unseen.
//
// Smaller departures: array lengths count against SecArgumentsLimit like
// any value, and the raw body is not copied to TX:json_request_body
// (only @validateSchema reads it; no rule here does).
//
// It registers under the name "json" because the CRS tells the JSON body
// processor by that name (REQBODY_PROCESSOR, rules 901340 and 920539).
// The registry is Coraza's, process-wide: this package is its only user.
type jsonBody struct{}

var _ plugintypes.BodyProcessor = jsonBody{}

func init() {
	plugins.RegisterBodyProcessor("json", func() plugintypes.BodyProcessor { return jsonBody{} })
}

// ProcessRequest fills ARGS_POST from a JSON request body.
func (jsonBody) ProcessRequest(r io.Reader, v plugintypes.TransactionVariables, o plugintypes.BodyProcessorOptions) error {
	return flattenInto(r, v.ArgsPost(), v.ArgumentsLimitReached(), o.RequestBodyRecursionLimit, o.ArgumentLimit)
}

// ProcessResponse fills RESPONSE_ARGS from a JSON response body.
func (jsonBody) ProcessResponse(r io.Reader, v plugintypes.TransactionVariables, o plugintypes.BodyProcessorOptions) error {
	return flattenInto(r, v.ResponseArgs(), v.ArgumentsLimitReached(), o.ResponseBodyRecursionLimit, o.ArgumentLimit)
}

// settable is Coraza's Single collection, which can be set; the public
// interface only reads.
type settable interface{ Set(string) }

func flattenInto(r io.Reader, col collection.Map, limitReached collection.Single, depth, maxArgs int) error {
	var b strings.Builder
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	f := flattener{col: col, maxArgs: maxArgs}
	err := f.flatten(b.String(), depth)
	if f.truncated {
		if s, ok := limitReached.(settable); ok {
			s.Set("1")
		}
	}
	return err
}

// Bounds on the flattened form, as Coraza's: the key of every leaf repeats
// its whole path, so a body of long paths can flatten to many times its
// size while staying under the argument limit.
const (
	flattenFactor = 8
	flattenFloor  = 4096
)

var errFlattenBudget = errors.New("flattened json exceeds its byte budget")

// flattener walks one document. name is the path as the rules see it;
// shape is the same path with every array index written as '#', the key
// under which repeated elements are recognised.
type flattener struct {
	col       collection.Map
	maxArgs   int
	args      int
	budget    int
	used      int
	truncated bool
	name      []byte
	shape     []byte
	seen      map[seenArg]struct{}
}

// seenArg is a value at a path of some shape. Two strings, not one
// joined with a separator: a key may hold any separator, and a joined
// key would let {"a":"x\u0000v", "a\u0000x":"v"} pass the second value
// off as the first.
type seenArg struct{ shape, value string }

// flatten adds s's values to the collection. Like Coraza, it walks before
// it validates: a body with a valid prefix is still inspected as far as it
// goes, and the error (REQBODY_ERROR, refused by rule 10100) follows.
func (f *flattener) flatten(s string, depth int) error {
	f.budget = max(len(s)*flattenFactor, flattenFloor)
	f.name = append(f.name[:0], "json"...)
	f.shape = append(f.shape[:0], "json"...)
	if err := f.walk(gjson.Parse(s), depth); err != nil {
		if errors.Is(err, errFlattenBudget) {
			return fmt.Errorf("flattened form exceeds the %d byte budget for a %d byte body", f.budget, len(s))
		}
		return err
	}
	// gjson.Valid recurses without bound; the depth is checked first
	// without recursion (Coraza's GHSA-6gcq-wc29-5xf2).
	if nestingExceeds(s, depth) {
		return errors.New("max recursion reached while reading json object")
	}
	if !gjson.Valid(s) {
		return errors.New("invalid JSON")
	}
	return nil
}

func (f *flattener) walk(doc gjson.Result, depth int) error {
	if f.full() {
		return nil
	}
	if depth <= 0 {
		return errors.New("max recursion reached while reading json object")
	}
	var err error
	members, elements := 0, 0
	doc.ForEach(func(key, value gjson.Result) bool {
		if f.full() {
			return false
		}
		nameLen, shapeLen := len(f.name), len(f.shape)
		f.name = append(f.name, '.')
		f.shape = append(f.shape, '.')
		if key.Type == gjson.String {
			f.name = append(f.name, key.Str...)
			f.shape = append(f.shape, key.Str...)
			members++
		} else {
			f.name = strconv.AppendInt(f.name, int64(key.Num), 10)
			f.shape = append(f.shape, '#')
			elements++
		}
		switch value.Type {
		case gjson.JSON:
			err = f.walk(value, depth-1)
		case gjson.String:
			err = f.add(value.Str)
		case gjson.Null:
			err = f.add("")
		default:
			err = f.add(value.Raw)
		}
		f.name, f.shape = f.name[:nameLen], f.shape[:shapeLen]
		return err == nil
	})
	if err != nil || f.truncated {
		return err
	}
	switch {
	case doc.IsArray():
		return f.add(strconv.Itoa(elements))
	case members == 0:
		return f.add("")
	}
	return nil
}

func (f *flattener) full() bool {
	if f.maxArgs > 0 && f.args >= f.maxArgs {
		f.truncated = true
	}
	return f.truncated
}

// add records the value at the current path, unless the same value is
// already recorded at a path of the same shape.
func (f *flattener) add(value string) error {
	if f.full() {
		return nil
	}
	if f.used+len(f.name)+len(value) > f.budget {
		return errFlattenBudget
	}
	key := seenArg{string(f.shape), value}
	if _, dup := f.seen[key]; dup {
		return nil
	}
	if f.seen == nil {
		f.seen = map[seenArg]struct{}{}
	}
	f.seen[key] = struct{}{}
	f.col.Add(string(f.name), value)
	f.used += len(f.name) + len(value)
	f.args++
	return nil
}

// nestingExceeds tells whether s nests objects and arrays deeper than
// limit, in one pass with a counter: no recursion for a hostile depth to
// exhaust.
func nestingExceeds(s string, limit int) bool {
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}
