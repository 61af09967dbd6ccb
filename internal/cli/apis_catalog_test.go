package cli

import (
	"strings"
	"testing"
)

// TestAPIsListAndSetState: the stored versions list the same locally
// and remotely, a lifecycle move is made over the admin API and seen
// by the local command, and an illegal move is refused with its reason.
func TestAPIsListAndSetState(t *testing.T) {
	e := newDocsRemoteEnv(t)
	if out := e.both("apis", "list"); out != "No stored API versions.\n" {
		t.Fatalf("empty list:\n%s", out)
	}
	e.mustRun("", "apply", "--config", e.config, "-f", writeDoc(t, t.TempDir(), "shop.yaml", applyDoc), "--yes")
	out := e.both("apis", "list")
	if !strings.Contains(out, "shop  v1       published  /shop/v1") || !strings.Contains(out, "default") {
		t.Fatalf("list:\n%s", out)
	}
	if out := e.both("apis", "list", "--state", "draft"); out != "No stored API versions.\n" {
		t.Fatalf("list --state draft:\n%s", out)
	}
	if out := e.mustRun("", "apis", "set-state", "shop", "v1", "deprecated", "--server", e.url); !strings.Contains(out, "shop v1 is now deprecated") {
		t.Fatalf("set-state:\n%s", out)
	}
	if out := e.both("apis", "list", "--json"); !strings.Contains(out, `"state": "deprecated"`) {
		t.Fatalf("list --json after the move:\n%s", out)
	}
	// Deprecated cannot go back to published, locally or remotely.
	for _, where := range [][]string{{"--server", e.url}, {"--config", e.config}} {
		_, err := e.run("", append([]string{"apis", "set-state", "shop", "v1", "published"}, where...)...)
		if err == nil || !strings.Contains(err.Error(), "deprecated") {
			t.Errorf("set-state back to published %v: %v", where, err)
		}
	}
}
