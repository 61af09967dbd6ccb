package adminclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/admin"
)

func TestApplyCatalogMoved(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusPreconditionFailed)
		_, _ = w.Write([]byte(`{"type":"urn:portcullis:problem:admin:precondition-failed","status":412,"detail":"the stored catalog changed since the plan; plan again","request_id":"r1"}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, "secret-token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ApplyCatalog(t.Context(), "apis: []\n", 7)
	var apiErr *Error
	if !errors.Is(err, ErrCatalogMoved) || !errors.As(err, &apiErr) || apiErr.Status != 412 {
		t.Fatalf("ApplyCatalog error = %v, want ErrCatalogMoved and the 412", err)
	}
	if want := "the stored catalog changed since the plan; run again to see the new plan (request id r1)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestAuditPages(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("cursor") == "" {
			_, _ = w.Write([]byte(`{"items":[{"seq":1,"action":"client.create"}],"next_cursor":"1"}`))
			return
		}
		_, _ = w.Write([]byte(`{"items":[{"seq":2,"action":"client.delete"}]}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, "secret-token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2031, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	q := AuditQuery{Actor: "ops", Action: "client.*", Target: ":reports", Since: since}
	var got []string
	err = c.AuditPages(t.Context(), q, func(p admin.AuditPage) error {
		for _, r := range p.Items {
			got = append(got, r.Action)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"client.create", "client.delete"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	want := []string{
		"action=client.%2A&actor=ops&limit=200&since=2031-03-04T04%3A06%3A07Z&target=%3Areports",
		"action=client.%2A&actor=ops&cursor=1&limit=200&since=2031-03-04T04%3A06%3A07Z&target=%3Areports",
	}
	if diff := cmp.Diff(want, queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	if err := c.AuditPages(t.Context(), AuditQuery{}, func(admin.AuditPage) error { return stop }); !errors.Is(err, stop) || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("a failing callback: %v", err)
	}
}
