package policy

import (
	"fmt"
	"net/netip"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Limits that keep a condition cheap to compile and to evaluate. A
// condition is a one-line rule, not a program; these bounds are far above
// any sensible rule and far below anything that could stall a token
// request.
const (
	// maxExprSize bounds a condition's length in code points.
	maxExprSize = 4096
	// maxRecursion bounds the parser's nesting depth.
	maxRecursion = 32
	// costLimit bounds one evaluation (CEL cost units, roughly one per
	// operation or list element visited).
	costLimit = 10_000
)

// The CEL object types of the condition variables. They are declared, not
// maps, so a misspelled field (user.role, request.addr) is a compile error
// rather than a runtime denial nobody notices.
var (
	userType    = types.NewObjectType("portcullis.User")
	clientType  = types.NewObjectType("portcullis.Client")
	requestType = types.NewObjectType("portcullis.Request")
)

// field is one field of a condition object: its CEL type and how to read
// it from the value the activation hands to the interpreter.
type field struct {
	typ *types.Type
	get func(obj any) (ref.Val, bool)
}

// objectFields describes the fields of each condition object type.
var objectFields = map[string]map[string]field{
	userType.TypeName(): {
		"id":    {types.StringType, userGetter((*userVal).getID)},
		"roles": {types.NewListType(types.StringType), userGetter((*userVal).getRoles)},
		"attrs": {types.NewMapType(types.StringType, types.StringType), userGetter((*userVal).getAttrs)},
	},
	clientType.TypeName(): {
		"id": {types.StringType, clientGetter((*clientVal).getID)},
	},
	requestType.TypeName(): {
		"ip":   {types.StringType, requestGetter((*requestVal).getIP)},
		"time": {types.TimestampType, requestGetter((*requestVal).getTime)},
	},
}

func userGetter(f func(*userVal) ref.Val) func(any) (ref.Val, bool) {
	return func(obj any) (ref.Val, bool) {
		u, ok := obj.(*userVal)
		if !ok {
			return nil, false
		}
		return f(u), true
	}
}

func clientGetter(f func(*clientVal) ref.Val) func(any) (ref.Val, bool) {
	return func(obj any) (ref.Val, bool) {
		c, ok := obj.(*clientVal)
		if !ok {
			return nil, false
		}
		return f(c), true
	}
}

func requestGetter(f func(*requestVal) ref.Val) func(any) (ref.Val, bool) {
	return func(obj any) (ref.Val, bool) {
		r, ok := obj.(*requestVal)
		if !ok {
			return nil, false
		}
		return f(r), true
	}
}

// provider adds the condition object types to CEL's default type provider,
// so the checker knows their fields and the interpreter reads them without
// reflection. objects maps a type name to its fields: objectFields for
// issuance conditions, requestRuleFields for gateway request rules, so
// neither environment knows the other's types.
type provider struct {
	types.Provider
	objects map[string]map[string]field
}

// FindStructType reports the condition object types by name.
func (p provider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := p.objects[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Provider.FindStructType(name)
}

// FindIdent resolves the condition object type names, so that
// type(user) == portcullis.User evaluates.
func (p provider) FindIdent(name string) (ref.Val, bool) {
	if _, ok := p.objects[name]; ok {
		return types.NewObjectType(name), true
	}
	return p.Provider.FindIdent(name)
}

// FindStructFieldNames lists a condition object's fields.
func (p provider) FindStructFieldNames(name string) ([]string, bool) {
	fields, ok := p.objects[name]
	if !ok {
		return p.Provider.FindStructFieldNames(name)
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	return names, true
}

// FindStructFieldType gives the type and accessors of a condition object's
// field. Every field is always set: a missing user is an empty user, not an
// absent one.
func (p provider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	fields, ok := p.objects[name]
	if !ok {
		return p.Provider.FindStructFieldType(name, fieldName)
	}
	f, ok := fields[fieldName]
	if !ok {
		return nil, false
	}
	return &types.FieldType{
		Type:  f.typ,
		IsSet: func(obj any) bool { _, ok := f.get(obj); return ok },
		GetFrom: func(obj any) (any, error) {
			v, ok := f.get(obj)
			if !ok {
				return nil, fmt.Errorf("no field %q on %T", fieldName, obj)
			}
			return v, nil
		},
	}, true
}

// NewValue refuses to build condition objects inside an expression: the
// only user, client and request a condition sees are the real ones.
func (p provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.objects[name]; ok {
		return types.NewErr("%s cannot be constructed", name)
	}
	return p.Provider.NewValue(name, fields)
}

// newEnv returns the CEL environment conditions are checked in. prefixes
// holds the CIDR constants of the conditions compiled in it, parsed once;
// ip.in falls back to parsing a CIDR that is not there.
func newEnv(prefixes map[string]netip.Prefix) (*cel.Env, error) {
	return cel.NewEnv(
		func(env *cel.Env) (*cel.Env, error) {
			return cel.CustomTypeProvider(provider{Provider: env.CELTypeProvider(), objects: objectFields})(env)
		},
		cel.Variable("user", userType),
		cel.Variable("client", clientType),
		cel.Variable("grant_type", cel.StringType),
		cel.Variable("request", requestType),
		cel.Function(ipInFunc,
			cel.Overload("ip_in_string_list_string",
				[]*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(func(ip, cidrs ref.Val) ref.Val {
					return ipIn(ip, cidrs, prefixes)
				}))),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ParserRecursionLimit(maxRecursion),
	)
}
