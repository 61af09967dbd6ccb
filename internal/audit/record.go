package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ActorKind says what kind of caller made a change.
type ActorKind string

// The kinds of actor.
const (
	// KindUser is a person signed in to the admin console or API.
	KindUser ActorKind = "user"
	// KindClient is an OAuth client calling the admin API with its own
	// token (client credentials).
	KindClient ActorKind = "client"
	// KindCLI is a management command run on a host of the installation;
	// Subject is the operating-system user when known.
	KindCLI ActorKind = "cli"
	// KindBreakGlass is the admin API's bootstrap token from the
	// environment.
	KindBreakGlass ActorKind = "break-glass"
	// KindSystem is the node itself, for example seeding the demo at
	// start.
	KindSystem ActorKind = "system"
)

var actorKinds = []ActorKind{KindUser, KindClient, KindCLI, KindBreakGlass, KindSystem}

// Actor is who made a change.
type Actor struct {
	Kind ActorKind `json:"kind"`
	// Subject is the user (the token's sub, or the OS user of a CLI
	// actor); "" when there is none.
	Subject string `json:"subject,omitempty"`
	// ClientID is the OAuth client the actor came through, if any.
	ClientID string `json:"client_id,omitempty"`
	// Roles are the actor's admin roles at the time.
	Roles []string `json:"roles,omitempty"`
}

// Target is the object a change is about.
type Target struct {
	// Type is the kind of object: "client", "user", "key", ...
	Type string `json:"type"`
	// ID names it: a client id, a username, a key id.
	ID string `json:"id,omitempty"`
}

// Record is one entry of the audit trail.
//
// Its hash is SHA-256(PrevHash || canonical JSON of the record without
// PrevHash and Hash); see Canonicalize for the encoding.
type Record struct {
	// Seq is the record's place in the chain (1, 2, 3, ...), set by
	// Append.
	Seq int64 `json:"seq"`
	// Time is when the record was appended (UTC), set by Append.
	Time   time.Time `json:"time"`
	Actor  Actor     `json:"actor"`
	Action string    `json:"action"`
	Target Target    `json:"target"`
	// Before and After are the object's state around the change, as
	// JSON, redacted by Redact on Append; nil for none (Before of a
	// create, After of a delete).
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// SourceIP and RequestID say where the change came from, when it came
	// over the network.
	SourceIP  string `json:"source_ip,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// PrevHash and Hash are the chain links, in lowercase hex; set on
	// records read back, never covered by the hash themselves.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// Origin is where a change came from.
type Origin struct {
	SourceIP  string
	RequestID string
}

type (
	actorKey  struct{}
	originKey struct{}
)

// WithActor returns ctx carrying a as the actor of the changes made under
// it.
func WithActor(ctx context.Context, a Actor) context.Context {
	a.Roles = slices.Clone(a.Roles)
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// WithOrigin returns ctx carrying o as the origin of the changes made
// under it.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin ctx carries, if any.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

// checkActor refuses an actor of unknown kind.
func checkActor(a Actor) error {
	if !slices.Contains(actorKinds, a.Kind) {
		return fmt.Errorf("audit: unknown actor kind %q", a.Kind)
	}
	return nil
}

// checkAction requires dotted lowercase names: "client.create",
// "user.set-password". They are what filters match on.
func checkAction(action string) error {
	parts := strings.Split(action, ".")
	ok := len(parts) >= 2
	for _, p := range parts {
		if p == "" || p[0] < 'a' || p[0] > 'z' {
			ok = false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				ok = false
			}
		}
	}
	if !ok {
		return fmt.Errorf("audit: invalid action %q: want dotted lowercase words such as client.create", action)
	}
	return nil
}
