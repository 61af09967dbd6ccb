package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds arbitrary files to Parse. It must not panic; an error
// must be made of *FieldErrors naming the file; a success must validate,
// have a policy, and survive a dump and re-read unchanged.
func FuzzParse(f *testing.F) {
	for _, path := range []string{
		"../../examples/warehouse/portcullis.yaml",
		"testdata/valid/full.yaml",
		"testdata/invalid/wrong_kind.yaml",
		"testdata/invalid/bad_condition_block.yaml",
		"testdata/valid/gateway.yaml",
		"testdata/invalid/gateway_operations.yaml",
		"testdata/invalid/gateway_cors.yaml",
		"testdata/valid/ratelimit.yaml",
		"testdata/invalid/ratelimit_limits.yaml",
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse() returned a config with error %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse() error %T %v holds no *FieldError", err, err)
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("error line %q does not start with the file name", line)
				}
			}
			return
		}
		if c.Issuance() == nil {
			t.Fatal("Issuance() = nil after a successful Parse")
		}
		dump, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal() error = %v", err)
		}
		again, err := Parse("f.yaml", dump)
		if err != nil {
			t.Fatalf("Parse(dump) error = %v\n%s", err, dump)
		}
		if diff := cmp.Diff(c, again, cmpopts.IgnoreUnexported(Config{}), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}
