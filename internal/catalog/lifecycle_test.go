package catalog

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTransition(t *testing.T) {
	tests := []struct {
		from, to State
		reason   string // empty: allowed
	}{
		{StateDraft, StateDraft, ""},
		{StateDraft, StatePublished, ""},
		{StateDraft, StateRetired, ""},
		{StatePublished, StateDeprecated, ""},
		{StateDeprecated, StateRetired, ""},
		{StatePublished, StatePublished, ""},
		{StateDraft, StateDeprecated, "nothing to deprecate"},
		{StatePublished, StateRetired, "deprecate a published version first"},
		{StatePublished, StateDraft, "never returns to it"},
		{StateDeprecated, StatePublished, "not published again"},
		{StateDeprecated, StateDraft, "never returns to it"},
		{StateRetired, StatePublished, "retired version is final"},
		{StateRetired, StateDraft, "retired version is final"},
		{StateDraft, "live", `"live" is not a lifecycle state`},
		{"", StateDraft, `"" is not a lifecycle state`},
	}
	for _, tc := range tests {
		t.Run(string(tc.from)+"->"+string(tc.to), func(t *testing.T) {
			err := CheckTransition(tc.from, tc.to)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("CheckTransition = %v, want nil", err)
				}
				return
			}
			var te *TransitionError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("CheckTransition = %v, want a TransitionError with %q", err, tc.reason)
			}
		})
	}
}

func TestServed(t *testing.T) {
	for _, s := range States() {
		want := s == StatePublished || s == StateDeprecated
		if got := s.Served(); got != want {
			t.Errorf("%s.Served() = %v, want %v", s, got, want)
		}
	}
}
