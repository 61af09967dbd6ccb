package server

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/console"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
)

func TestVersionDetailHidesUpstreamSecrets(t *testing.T) {
	e := catalog.VersionEntry{API: catalog.API{Name: "shop", Version: "v1", BasePath: "/shop",
		Upstream: "https://user:s3cret@shop.internal:8443/base?key=s3cret"}, State: catalog.StatePublished}
	d := versionDetail(e)
	if d.UpstreamHost != "shop.internal:8443" {
		t.Errorf("UpstreamHost = %q, want shop.internal:8443", d.UpstreamHost)
	}
	if !slices.Equal(d.NextStates, []string{"deprecated"}) {
		t.Errorf("NextStates of published = %v, want [deprecated]", d.NextStates)
	}
	e.State = ""
	if d := versionDetail(e); d.State != "draft" || !slices.Equal(d.NextStates, []string{"published", "retired"}) {
		t.Errorf("empty state: %q %v, want draft [published retired]", d.State, d.NextStates)
	}
}

func TestConsoleVersionsSetState(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	file := catalog.Snapshot{Issuers: []catalog.Issuer{{Issuer: "https://id.example"}}}
	seed := publish.New(db, audit.New(db, now).WithDefaultActor(audit.Actor{Kind: audit.KindSystem, Subject: "test"}), file, nil, now)
	doc := catalog.Document{APIs: []catalog.VersionEntry{{API: catalog.API{Name: "shop", Version: "v1", BasePath: "/shop/v1",
		Upstream: "http://shop.internal:8080/base", Public: true,
		Operations: []catalog.Operation{{Method: "GET", Path: "/carts"}}}, State: catalog.StateDraft}}}
	p, err := seed.Plan(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	cv := consoleVersions{publish.New(db, audit.New(db, now), file, nil, now)}

	if _, err := cv.Version(ctx, "shop", "v9"); !errors.Is(err, console.ErrNotFound) {
		t.Errorf("Version of an unknown version: %v, want ErrNotFound", err)
	}
	d, err := cv.Version(ctx, "shop", "v1")
	if err != nil {
		t.Fatal(err)
	}
	alice := audit.WithActor(ctx, audit.Actor{Kind: audit.KindUser, Subject: "u-alice", ClientID: console.ClientID, Roles: []string{console.RolePlatform}})

	if _, err := cv.SetState(alice, "shop", "v1", "published", "stale"); !errors.Is(err, console.ErrStale) {
		t.Errorf("stale fingerprint: %v, want ErrStale", err)
	}
	var refused *console.RefusedError
	if _, err := cv.SetState(alice, "shop", "v1", "deprecated", d.Fingerprint); !errors.As(err, &refused) ||
		!strings.Contains(strings.Join(refused.Reasons, " "), "cannot move from draft to deprecated") {
		t.Errorf("illegal move: %v, want a refusal naming the move", err)
	}
	if _, err := cv.SetState(alice, "shop", "v1", "bogus", d.Fingerprint); !errors.As(err, &refused) {
		t.Errorf("unknown state: %v, want a refusal", err)
	}
	got, err := cv.SetState(alice, "shop", "v1", "published", d.Fingerprint)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if got.State != "published" || got.Fingerprint == d.Fingerprint {
		t.Errorf("after publishing: state %q, fingerprint changed %v", got.State, got.Fingerprint != d.Fingerprint)
	}
	if _, err := cv.SetState(alice, "shop", "v1", "deprecated", d.Fingerprint); !errors.Is(err, console.ErrStale) {
		t.Errorf("the fingerprint read before the change: %v, want ErrStale", err)
	}
	recs, _, err := audit.New(db, nil).List(ctx, audit.Filter{Action: publish.ActionVersionState}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Actor.Subject != "u-alice" || recs[0].Actor.Kind != audit.KindUser {
		t.Errorf("audit records = %+v, want one catalog.version.state by u-alice", recs)
	}
}
