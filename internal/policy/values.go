package policy

import (
	"errors"
	"net/netip"
	"reflect"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// activation is the variables one Grant call shows its conditions. It is
// built once per call, on the first condition, and converts a field to a
// CEL value the first time a condition reads it, keeping the value for the
// conditions after: the warehouse rule reads three fields of seven, and
// the common grant runs no condition at all. An activation belongs to one
// Grant call and is never shared between goroutines.
type activation struct {
	user      userVal
	client    clientVal
	request   requestVal
	grantSrc  string
	grantType ref.Val
}

var _ interpreter.Activation = (*activation)(nil)

// newActivation wraps in. A nil user (client credentials) is the empty
// user: id "", roles [], attrs {}.
func newActivation(in Input) *activation {
	return &activation{
		user:     userVal{src: in.User},
		client:   clientVal{src: in.ClientID},
		request:  requestVal{addr: in.IP, at: in.Time},
		grantSrc: in.GrantType,
	}
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "user":
		return &a.user, true
	case "client":
		return &a.client, true
	case "request":
		return &a.request, true
	case "grant_type":
		if a.grantType == nil {
			a.grantType = types.String(a.grantSrc)
		}
		return a.grantType, true
	}
	return nil, false
}

// Parent implements interpreter.Activation; there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

// errNoConversion is returned when an expression asks to turn a condition
// object into a Go value; nothing in the environment needs that.
var errNoConversion = errors.New("policy: condition objects do not convert to native values")

// userVal is the CEL value of the user variable.
type userVal struct {
	src              *User // nil: the empty user
	id, roles, attrs ref.Val
}

// The fields of the empty user, shared and never written.
var (
	emptyID    ref.Val = types.String("")
	emptyRoles ref.Val = types.NewStringList(types.DefaultTypeAdapter, nil)
	emptyAttrs ref.Val = types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{})
)

func (u *userVal) getID() ref.Val {
	if u.src == nil {
		return emptyID
	}
	if u.id == nil {
		u.id = types.String(u.src.ID)
	}
	return u.id
}

func (u *userVal) getRoles() ref.Val {
	if u.src == nil {
		return emptyRoles
	}
	if u.roles == nil {
		u.roles = types.NewStringList(types.DefaultTypeAdapter, u.src.Roles)
	}
	return u.roles
}

func (u *userVal) getAttrs() ref.Val {
	if u.src == nil || u.src.Attrs == nil {
		return emptyAttrs
	}
	if u.attrs == nil {
		u.attrs = types.NewStringStringMap(types.DefaultTypeAdapter, u.src.Attrs)
	}
	return u.attrs
}

// clientVal is the CEL value of the client variable.
type clientVal struct {
	src string
	id  ref.Val
}

func (c *clientVal) getID() ref.Val {
	if c.id == nil {
		c.id = types.String(c.src)
	}
	return c.id
}

// requestVal is the CEL value of the request variable.
type requestVal struct {
	addr     netip.Addr
	at       time.Time
	ip, time ref.Val
}

func (r *requestVal) getIP() ref.Val {
	if r.ip == nil {
		r.ip = types.String(ipString(r.addr))
	}
	return r.ip
}

func (r *requestVal) getTime() ref.Val {
	if r.time == nil {
		r.time = types.Timestamp{Time: r.at}
	}
	return r.time
}

// ipString renders the request address the way ip.in parses it back: an
// IPv4-mapped IPv6 address as plain IPv4 (a dual-stack listener reports
// IPv4 clients that way), no zone, and "" for an unknown address so that
// ip.in is false rather than guessing.
func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().WithZone("").String()
}

var (
	_ ref.Val        = (*userVal)(nil)
	_ ref.Val        = (*clientVal)(nil)
	_ ref.Val        = (*requestVal)(nil)
	_ traits.Indexer = (*userVal)(nil)
	_ traits.Indexer = (*clientVal)(nil)
	_ traits.Indexer = (*requestVal)(nil)
)

// The ref.Val methods of userVal: it converts only to its own type and to
// type, for type(x).
func (u *userVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNoConversion }
func (u *userVal) ConvertToType(t ref.Type) ref.Val          { return convertObject(u, userType, t) }
func (u *userVal) Type() ref.Type                            { return userType }
func (u *userVal) Value() any                                { return u }

// Equal is identity: an expression cannot build a second user, so the only
// user equal to this one is itself.
func (u *userVal) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(u)) }

// The ref.Val methods of clientVal: it converts only to its own type and to
// type, for type(x).
func (c *clientVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNoConversion }
func (c *clientVal) ConvertToType(t ref.Type) ref.Val          { return convertObject(c, clientType, t) }
func (c *clientVal) Type() ref.Type                            { return clientType }
func (c *clientVal) Value() any                                { return c }

// Equal is identity, as for the user.
func (c *clientVal) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(c)) }

// The ref.Val methods of requestVal: it converts only to its own type and to
// type, for type(x).
func (r *requestVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNoConversion }
func (r *requestVal) ConvertToType(t ref.Type) ref.Val          { return convertObject(r, requestType, t) }
func (r *requestVal) Type() ref.Type                            { return requestType }
func (r *requestVal) Value() any                                { return r }

// Equal is identity, as for the user.
func (r *requestVal) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(r)) }

// convertObject supports type(x) and a no-op conversion to its own type.
func convertObject(v ref.Val, own *types.Type, t ref.Type) ref.Val {
	switch t.TypeName() {
	case types.TypeType.TypeName():
		return own
	case own.TypeName():
		return v
	}
	return types.NewErr("type conversion error from '%s' to '%s'", own.TypeName(), t.TypeName())
}

// The condition objects are also indexers, so a field read that the
// checker could not resolve statically (dyn(user).roles) still works.

// Get implements traits.Indexer.
func (u *userVal) Get(index ref.Val) ref.Val { return getField(u, userType, index) }

// IsSet implements traits.FieldTester.
func (u *userVal) IsSet(field ref.Val) ref.Val { return isSetField(u, userType, field) }

// Get implements traits.Indexer.
func (c *clientVal) Get(index ref.Val) ref.Val { return getField(c, clientType, index) }

// IsSet implements traits.FieldTester.
func (c *clientVal) IsSet(field ref.Val) ref.Val { return isSetField(c, clientType, field) }

// Get implements traits.Indexer.
func (r *requestVal) Get(index ref.Val) ref.Val { return getField(r, requestType, index) }

// IsSet implements traits.FieldTester.
func (r *requestVal) IsSet(field ref.Val) ref.Val { return isSetField(r, requestType, field) }

// getField reads the field index names from obj, whose type t has the
// fields of objects[t].
func getField(obj any, t *types.Type, index ref.Val) ref.Val {
	return getObjectField(obj, objectFields[t.TypeName()], index)
}

// getObjectField reads the field index names from obj, which has fields.
func getObjectField(obj any, fields map[string]field, index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.NewErr("no such overload")
	}
	f, ok := fields[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", string(name))
	}
	v, ok := f.get(obj)
	if !ok {
		return types.NewErr("no such field: %s", string(name))
	}
	return v
}

func isSetField(obj any, t *types.Type, field ref.Val) ref.Val {
	v := getField(obj, t, field)
	if types.IsError(v) {
		return v
	}
	return types.True
}
