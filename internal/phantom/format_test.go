package phantom_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/token"
)

// TestIntrospectorOpaqueFormat: an issuer with opaque tokens of its own
// format (token.OpaqueAny) gets any bounded RFC 6750 b64token
// introspected; Portcullis's format, the default, refuses those before
// any call.
func TestIntrospectorOpaqueFormat(t *testing.T) {
	t.Parallel()
	foreign := "2YotnFZFEjr1zCsicMWpAA"         // RFC 6749 §4.1.4's example
	dotted := "v2.local.QAxIpVe-ECVNI1z4xQbm_w" // a token format with dots
	tests := []struct {
		name      string
		format    token.OpaqueFormat
		raw       string
		wantErr   error
		wantCalls int64
	}{
		{"foreign token, format any", token.OpaqueAny, foreign, nil, 1},
		{"dotted token, format any", token.OpaqueAny, dotted, nil, 1},
		{"ours, format any", token.OpaqueAny, "ours", nil, 1},
		{"unknown foreign token, format any", token.OpaqueAny, "unknown-token", phantom.ErrInactive, 1},
		{"at the bound, format any", token.OpaqueAny, strings.Repeat("a", token.MaxForeignOpaque), phantom.ErrInactive, 1},
		{"past the bound, format any", token.OpaqueAny, strings.Repeat("a", token.MaxForeignOpaque+1), phantom.ErrInactive, 0},
		{"not a b64token, format any", token.OpaqueAny, "two words", phantom.ErrInactive, 0},
		{"a quote, format any", token.OpaqueAny, `a"b`, phantom.ErrInactive, 0},
		{"foreign token, format portcullis", token.OpaquePortcullis, foreign, phantom.ErrInactive, 0},
		{"ours, format portcullis", token.OpaquePortcullis, "ours", nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, phantom.IntrospectorConfig{OpaqueFormat: tc.format})
			raw := tc.raw
			if raw == "ours" {
				raw = opaque(t)
			}
			f.issue(t, foreign, "alice", time.Hour)
			f.issue(t, dotted, "alice", time.Hour)
			f.issue(t, raw, "alice", time.Hour)
			if tc.wantErr != nil {
				f.as.Revoke(raw)
			}
			got, err := f.in.Resolve(t.Context(), raw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.Claims.Subject != "alice" {
				t.Errorf("Resolve sub = %q, want alice", got.Claims.Subject)
			}
			if calls := f.as.Calls(); calls != tc.wantCalls {
				t.Errorf("introspection calls = %d, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// TestIntrospectorOpaqueFormatAnyCapped: a foreign format opens the
// introspection endpoint to more strings, not to more calls: distinct
// unknown tokens still wait for a slot of the cap, and past it fail with
// ErrBusy at once.
func TestIntrospectorOpaqueFormatAnyCapped(t *testing.T) {
	t.Parallel()
	calls := phantom.NewCallLimit(1)
	f := newFixture(t, phantom.IntrospectorConfig{OpaqueFormat: token.OpaqueAny, Calls: calls})
	gate := make(chan struct{})
	f.as.Block(gate)
	held := make(chan error, 1)
	go func() {
		_, err := f.in.Resolve(t.Context(), "foreign-junk-1")
		held <- err
	}()
	for f.as.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := range 100 {
		_, err := f.in.Resolve(t.Context(), "foreign-junk-2-"+strings.Repeat("x", i))
		if !errors.Is(err, phantom.ErrBusy) {
			t.Fatalf("Resolve of distinct junk past the cap: err = %v, want ErrBusy", err)
		}
	}
	close(gate)
	if err := <-held; !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("held Resolve err = %v, want ErrInactive", err)
	}
	if got := f.as.Calls(); got != 1 {
		t.Errorf("introspection calls = %d, want 1", got)
	}
}
