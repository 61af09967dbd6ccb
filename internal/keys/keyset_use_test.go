package keys_test

import (
	"context"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/keys"
)

// KeySetFor holds exactly the published keys of its use, retired ones
// included, so an ID token signed before a rotation still verifies as a
// hint while its key is published.
func TestKeySetForSeparatesUses(t *testing.T) {
	c := newClock()
	m := initManager(t, newMemStore(), keys.Config{}, c)
	if _, err := m.Rotate(context.Background(), keys.UseID); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	want := map[keys.Use][]string{}
	for _, k := range list(t, m) {
		if k.State != "" {
			want[k.Use] = append(want[k.Use], k.KID)
		}
	}
	for _, use := range []keys.Use{keys.UseAccess, keys.UseID} {
		var got []string
		for _, k := range m.KeySetFor(use).Keys {
			got = append(got, k.KeyID)
		}
		slices.Sort(got)
		slices.Sort(want[use])
		if !slices.Equal(got, want[use]) {
			t.Errorf("KeySetFor(%s) = %v, want %v", use, got, want[use])
		}
	}
	if n := len(m.KeySetFor(keys.UseID).Keys); n != 3 {
		t.Errorf("KeySetFor(id) after a rotation has %d keys, want 3 (active, next, retired)", n)
	}
}
