package cli

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
)

// exportRecords runs audit export with args and parses its lines.
func (e *cliEnv) exportRecords(args ...string) []audit.Record {
	e.t.Helper()
	out := e.mustRun("", append([]string{"audit", "export", "--config", e.config}, args...)...)
	var recs []audit.Record
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			e.t.Fatalf("audit export line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func actions(recs []audit.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Action+" "+r.Target.Type+":"+r.Target.ID)
	}
	return out
}

func TestCLIAudit(t *testing.T) {
	e := newCLIEnv(t)
	out := e.mustRun("", "clients", "create", "--config", e.config, "--id", "reports",
		"--grant-type", "client_credentials", "--scope", "list_items", "--json")
	var created struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret == "" {
		t.Fatalf("clients create --json: %v: %s", err, out)
	}
	e.mustRun("", "clients", "rotate-secret", "--config", e.config, "reports")
	e.mustRun("long enough passphrase\n", "users", "create", "alice", "--config", e.config)
	e.mustRun("", "keys", "rotate", "--config", e.config, "--use", "id")
	e.mustRun("", "clients", "delete", "--config", e.config, "reports")

	if out := e.mustRun("", "audit", "verify", "--config", e.config); !strings.HasPrefix(out, "audit trail OK: 5 records, head 5 ") {
		t.Errorf("audit verify = %q, want OK with 5 records", out)
	}

	all := e.exportRecords()
	want := []string{
		"client.create client:reports", "client.rotate-secret client:reports", "user.create user:alice",
		"key.rotate signing-keys:id", "client.delete client:reports",
	}
	if diff := cmp.Diff(want, actions(all)); diff != "" {
		t.Errorf("audit export (-want +got):\n%s", diff)
	}
	for _, r := range all {
		if r.Actor.Kind != audit.KindCLI || r.Hash == "" {
			t.Errorf("record %d: actor %+v, hash %q; want a cli actor and a hash", r.Seq, r.Actor, r.Hash)
		}
		for _, s := range [][]byte{r.Before, r.After} {
			if created.Secret != "" && strings.Contains(string(s), created.Secret) || strings.Contains(string(s), "$argon2") {
				t.Errorf("record %d holds a secret: %s", r.Seq, s)
			}
		}
	}
	actor := all[0].Actor.Subject

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--action", "client.*"}, []string{want[0], want[1], want[4]}},
		{[]string{"--action", "user.create"}, []string{want[2]}},
		{[]string{"--target", "signing-keys"}, []string{want[3]}},
		{[]string{"--target", "client:reports", "--since", "1h"}, []string{want[0], want[1], want[4]}},
		{[]string{"--until", "2000-01-01"}, nil},
		{[]string{"--actor", "somebody-else"}, nil},
	} {
		if diff := cmp.Diff(tc.want, actions(e.exportRecords(tc.args...))); diff != "" {
			t.Errorf("audit export %v (-want +got):\n%s", tc.args, diff)
		}
	}
	if actor != "" {
		if got := len(e.exportRecords("--actor", actor)); got != 5 {
			t.Errorf("audit export --actor %s: %d records, want 5", actor, got)
		}
	}
	if _, err := e.run("", "audit", "export", "--config", e.config, "--since", "last tuesday"); err == nil {
		t.Error("audit export --since 'last tuesday' succeeded")
	}

	// Edit a record behind the store's back.
	matches, _ := filepath.Glob(filepath.Join(e.dir, "*.db"))
	if len(matches) != 1 {
		t.Fatalf("database files in %s: %v", e.dir, matches)
	}
	raw, err := sql.Open("sqlite", matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`UPDATE audit_log SET record = replace(record, '"user.create"', '"user.delete"'), action = 'user.delete' WHERE seq = 3`,
	} {
		if _, err := raw.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = e.run("", "audit", "verify", "--config", e.config)
	if err == nil || !strings.Contains(err.Error(), "BROKEN at record 3 (edited)") {
		t.Errorf("audit verify of an edited trail: %v, want an error naming record 3", err)
	}
	out, err = e.run("", "audit", "verify", "--config", e.config, "--json")
	var view AuditVerifyView
	if jerr := json.Unmarshal([]byte(out), &view); err == nil || jerr != nil || view.OK || view.BrokenSeq != 3 || view.Problem != "edited" {
		t.Errorf("audit verify --json = %s (%v, %v), want not OK, broken at 3 (edited)", out, err, jerr)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"2031-03-01T00:00:00Z": time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC),
		"2031-03-01":           time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC),
		"24h":                  now.Add(-24 * time.Hour),
	} {
		got, err := parseWhen("--since", in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-1h", "2031-13-01"} {
		if _, err := parseWhen("--since", in, now); err == nil {
			t.Errorf("parseWhen(%q) succeeded", in)
		}
	}
}
