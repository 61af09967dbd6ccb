package policy

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// The CEL object types of exchange conditions.
var (
	exchangeClientType  = types.NewObjectType("portcullis.ExchangeClient")
	partyType           = types.NewObjectType("portcullis.Party")
	exchangeRequestType = types.NewObjectType("portcullis.ExchangeRequest")
)

// exchangeFields are the fields of the exchange object types; a table of
// its own so neither the issuance nor the gateway environment sees them.
var exchangeFields = map[string]map[string]field{
	exchangeClientType.TypeName(): {
		"id": {types.StringType, objField("id")},
	},
	partyType.TypeName(): {
		"sub":       {types.StringType, objField("sub")},
		"iss":       {types.StringType, objField("iss")},
		"client_id": {types.StringType, objField("client_id")},
		"scopes":    {types.NewListType(types.StringType), objField("scopes")},
		"claims":    {types.NewMapType(types.StringType, types.DynType), objField("claims")},
	},
	exchangeRequestType.TypeName(): {
		"audiences": {types.NewListType(types.StringType), objField("audiences")},
		"scopes":    {types.NewListType(types.StringType), objField("scopes")},
		"time":      {types.TimestampType, objField("time")},
	},
}

// objField reads one field of an exchangeObj.
func objField(name string) func(any) (ref.Val, bool) {
	return func(obj any) (ref.Val, bool) {
		o, ok := obj.(*exchangeObj)
		if !ok {
			return nil, false
		}
		v, ok := o.fields[name]
		return v, ok
	}
}

// exchangeObj is the CEL value of an exchange condition object. Its fields
// are converted up front: an exchange is a rare request next to a gateway
// call, and the objects are small.
type exchangeObj struct {
	typ    *types.Type
	fields map[string]ref.Val
}

var (
	_ ref.Val        = (*exchangeObj)(nil)
	_ traits.Indexer = (*exchangeObj)(nil)
)

func (o *exchangeObj) ConvertToNative(reflect.Type) (any, error) { return nil, errNoConversion }
func (o *exchangeObj) ConvertToType(t ref.Type) ref.Val          { return convertObject(o, o.typ, t) }
func (o *exchangeObj) Type() ref.Type                            { return o.typ }
func (o *exchangeObj) Value() any                                { return o }

// Equal is identity: an expression cannot build a second object.
func (o *exchangeObj) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(o)) }

// Get implements traits.Indexer.
func (o *exchangeObj) Get(index ref.Val) ref.Val {
	return getObjectField(o, exchangeFields[o.typ.TypeName()], index)
}

// IsSet implements traits.FieldTester.
func (o *exchangeObj) IsSet(f ref.Val) ref.Val {
	v := o.Get(f)
	if types.IsError(v) {
		return v
	}
	return types.True
}

func partyObj(p Party) *exchangeObj {
	claims := p.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	return &exchangeObj{typ: partyType, fields: map[string]ref.Val{
		"sub":       types.String(p.Sub),
		"iss":       types.String(p.Issuer),
		"client_id": types.String(p.ClientID),
		"scopes":    types.NewStringList(types.DefaultTypeAdapter, p.Scopes),
		"claims":    types.NewStringInterfaceMap(types.DefaultTypeAdapter, claims),
	}}
}

// exchangeActivation is the variables of one Decide call.
type exchangeActivation struct {
	vars map[string]any
}

var _ interpreter.Activation = (*exchangeActivation)(nil)

func newExchangeActivation(in ExchangeInput) *exchangeActivation {
	return &exchangeActivation{vars: map[string]any{
		"client": &exchangeObj{typ: exchangeClientType, fields: map[string]ref.Val{
			"id": types.String(in.ClientID),
		}},
		"subject": partyObj(in.Subject),
		"actor":   partyObj(in.Actor),
		"request": &exchangeObj{typ: exchangeRequestType, fields: map[string]ref.Val{
			"audiences": types.NewStringList(types.DefaultTypeAdapter, in.Audiences),
			"scopes":    types.NewStringList(types.DefaultTypeAdapter, in.Scopes),
			"time":      types.Timestamp{Time: in.Time},
		}},
	}}
}

// ResolveName implements interpreter.Activation.
func (a *exchangeActivation) ResolveName(name string) (any, bool) {
	v, ok := a.vars[name]
	return v, ok
}

// Parent implements interpreter.Activation; there is none.
func (a *exchangeActivation) Parent() interpreter.Activation { return nil }
