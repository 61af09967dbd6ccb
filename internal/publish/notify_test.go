package publish

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// revisions records the revisions it is told of.
type revisions struct{ got []int64 }

func (r *revisions) CatalogChanged(_ context.Context, rev int64) { r.got = append(r.got, rev) }

// The notifier hears of each committed apply with the revision then
// stored, and of nothing else: not an empty plan, not a refused one.
func TestApplyNotifiesAfterCommit(t *testing.T) {
	db := openStore(t)
	now := epoch
	n := &revisions{}
	svc := newService(t, db, &now).Notify(n)
	apply(t, svc, parse(t, doc))
	apply(t, svc, parse(t, doc)) // no changes: no notice

	stale, err := svc.Plan(t.Context(), parse(t, doc+"  - name: bronze\n    limits:\n      - {name: bronze-rate, rate: 1/s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	apply(t, svc, parse(t, doc+"  - name: silver\n    limits:\n      - {name: silver-rate, rate: 10/s}\n"))
	if err := svc.Apply(t.Context(), stale); !errors.Is(err, ErrStale) {
		t.Fatalf("Apply(stale) = %v, want ErrStale", err)
	}
	if diff := cmp.Diff([]int64{3, 4}, n.got); diff != "" {
		t.Errorf("notified revisions (-want +got):\n%s", diff)
	}
}
