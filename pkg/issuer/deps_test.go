package issuer

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: pkg/issuer is public and pkg/verify builds on it, so
// it depends on the standard library and go-jose alone: nothing of
// Portcullis's internals reaches a backend through it.
func TestDependencies(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is needed to list dependencies")
	}
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/portcullis/portcullis/pkg/issuer" && !strings.HasPrefix(dep, "github.com/go-jose/go-jose/v4") {
			t.Errorf("pkg/issuer depends on %s", dep)
		}
	}
}
