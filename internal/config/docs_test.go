package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

const docsPath = "../../docs/configuration.md"

// TestDocsCoverEveryField keeps docs/configuration.md true to the types:
// every field path must appear there, in backquotes.
func TestDocsCoverEveryField(t *testing.T) {
	docs, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range fieldPaths(reflect.TypeFor[Config](), "") {
		if !strings.Contains(string(docs), "`"+path+"`") {
			t.Errorf("%s does not document `%s`", docsPath, path)
		}
	}
}

// fieldPaths lists the YAML paths of t's fields; a map's entries are
// written NAME and a list's items [] (gateway.apis[].name).
func fieldPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for name, ft := range yamlFields(t) {
		path := joinPath(prefix, name)
		paths = append(paths, path)
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			paths = append(paths, fieldPaths(ft, path)...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			paths = append(paths, fieldPaths(ft.Elem(), path+".NAME")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			paths = append(paths, fieldPaths(ft.Elem(), path+"[]")...)
		}
	}
	return paths
}

// TestDocsExamplesCompile compiles every expression in the ```cel blocks
// of the docs (expressions are separated by blank lines).
func TestDocsExamplesCompile(t *testing.T) {
	docs, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```cel\n(.*?)```").FindAllStringSubmatch(string(docs), -1)
	if len(blocks) == 0 {
		t.Fatal("no cel examples found")
	}
	n := 0
	for _, b := range blocks {
		for expr := range strings.SplitSeq(b[1], "\n\n") {
			if strings.TrimSpace(expr) == "" {
				continue
			}
			n++
			if _, err := policy.Compile(policy.Spec{Conditions: map[string]string{"example": expr}}); err != nil {
				t.Errorf("example does not compile: %v\n%s", err, expr)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d examples, want at least 5", n)
	}
}

// TestDocsRequestRulesCompile compiles every expression in the
// ```cel-request blocks of the docs (gateway request rules, separated by
// blank lines).
func TestDocsRequestRulesCompile(t *testing.T) {
	docs, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```cel-request\n(.*?)```").FindAllStringSubmatch(string(docs), -1)
	n := 0
	for _, b := range blocks {
		for expr := range strings.SplitSeq(b[1], "\n\n") {
			if strings.TrimSpace(expr) == "" {
				continue
			}
			n++
			if _, err := policy.CompileRequestRule(expr, time.UTC); err != nil {
				t.Errorf("example does not compile: %v\n%s", err, expr)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d request rule examples, want at least 5", n)
	}
}

// TestDocsYAMLExamplesParse loads every ```yaml block of the docs as a
// configuration file.
func TestDocsYAMLExamplesParse(t *testing.T) {
	docs, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(docs), -1)
	if len(blocks) == 0 {
		t.Fatal("no yaml examples found")
	}
	for _, b := range blocks {
		if _, err := Parse("docs.yaml", []byte(b[1])); err != nil {
			t.Errorf("example does not load: %v\n%s", err, b[1])
		}
	}
}
