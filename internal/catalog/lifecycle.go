package catalog

import (
	"context"
	"fmt"
	"slices"
)

// State is where an API version stands in its lifecycle. A version is
// written as a draft, published to the gateways, deprecated (still
// served, with Deprecation and Sunset headers) and finally retired (no
// longer served). A draft that is never published may be retired
// directly.
type State string

// The lifecycle states.
const (
	StateDraft      State = "draft"
	StatePublished  State = "published"
	StateDeprecated State = "deprecated"
	StateRetired    State = "retired"
)

// States lists every state in lifecycle order.
func States() []State {
	return []State{StateDraft, StatePublished, StateDeprecated, StateRetired}
}

// Valid reports whether s is one of the lifecycle states.
func (s State) Valid() bool { return slices.Contains(States(), s) }

// Served reports whether gateways serve a version in state s.
func (s State) Served() bool { return s == StatePublished || s == StateDeprecated }

// transitions are the allowed moves; anything else is refused with the
// reason in illegal.
var transitions = map[State][]State{
	StateDraft:      {StatePublished, StateRetired},
	StatePublished:  {StateDeprecated},
	StateDeprecated: {StateRetired},
}

// TransitionError is a lifecycle move that is not allowed, with why.
type TransitionError struct {
	From, To State
	Reason   string
}

// Error says which move was refused and why.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot move from %s to %s: %s", e.From, e.To, e.Reason)
}

// CheckTransition returns nil when a version may move from one state to
// the other (staying put included), else a *TransitionError saying why.
func CheckTransition(from, to State) error {
	refuse := func(reason string) error { return &TransitionError{From: from, To: to, Reason: reason} }
	switch {
	case !from.Valid():
		return refuse(fmt.Sprintf("%q is not a lifecycle state", from))
	case !to.Valid():
		return refuse(fmt.Sprintf("%q is not a lifecycle state (want draft, published, deprecated or retired)", to))
	case from == to:
		return nil
	case slices.Contains(transitions[from], to):
		return nil
	case from == StateRetired:
		return refuse("a retired version is final; publish a new version instead")
	case to == StateDraft:
		return refuse("a version that left draft never returns to it; publish a new version instead")
	case from == StatePublished && to == StateRetired:
		return refuse("deprecate a published version first, so its callers see Deprecation and Sunset headers before it goes")
	case from == StateDraft && to == StateDeprecated:
		return refuse("a draft was never published, so there is nothing to deprecate; publish or retire it")
	case from == StateDeprecated && to == StatePublished:
		return refuse("a deprecated version is not published again; publish a new version instead")
	}
	return refuse("not a lifecycle step")
}

// Transition is one lifecycle move of an API version, as an Approver
// sees it.
type Transition struct {
	API, Version string
	From, To     State
}

// Approver decides whether a lifecycle transition that CheckTransition
// allows may happen now (an approval request granted, a change window
// open). It is a hook: returning an error refuses the transition with
// that error. No approver means every allowed transition goes ahead.
type Approver interface {
	Approve(ctx context.Context, t Transition) error
}
