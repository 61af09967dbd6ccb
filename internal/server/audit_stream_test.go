package server

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
)

// TestAuditStreamToFile changes a client through the node's admin API and
// expects its record in the audit.stream file, after every earlier record
// and once.
func TestAuditStreamToFile(t *testing.T) {
	t.Parallel()
	token := "q8Zr2vT0xLw5Yb3NcF7mHs1KdJ9pGa4E"
	cfg := testConfig(t)
	path := filepath.Join(cfg.DataDir, "audit.jsonl")
	cfg.Audit.Stream = config.AuditStream{File: path, Interval: config.Duration(10 * time.Millisecond)}
	r := startTest(t, cfg, WithGetenv(func(k string) string {
		if k == admin.TokenEnv {
			return token
		}
		return ""
	}))

	req, err := http.NewRequest("POST", r.AdminURL+"/admin/v1/clients",
		strings.NewReader(`{"client_id":"reports","grant_types":["client_credentials"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create client: status %d, want 201", resp.StatusCode)
	}

	type line struct {
		Seq    int64  `json:"seq"`
		Action string `json:"action"`
		Target struct {
			ID string `json:"id"`
		} `json:"target"`
	}
	var lines []line
	// The stream polls; wait for it, bounded only so a broken test ends.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		lines = nil
		b, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for l := range strings.Lines(string(b)) {
			var rec line
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			lines = append(lines, rec)
		}
		if n := len(lines); n > 0 && lines[n-1].Action == "client.create" && lines[n-1].Target.ID == "reports" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file never got the client.create of reports; it holds %+v", lines)
		}
	}
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Fatalf("line %d holds record %d; want records 1 to %d in order, once each", i+1, l.Seq, len(lines))
		}
	}

	status, body := get(t, r.AdminURL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("metrics: status %d", status)
	}
	for _, want := range []string{`portcullis_audit_stream_last_seq{sink="file"}`, `portcullis_audit_stream_errors_total{sink="file"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
