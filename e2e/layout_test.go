package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/portcullis/portcullis/"

// allowedImports is the dependency direction of DESIGN: domain packages
// point down to store, never back up, and only cmd imports app.
var allowedImports = map[string][]string{
	"internal/store":      {},
	"internal/token":      {},
	"internal/policy":     {},
	"internal/keys":       {"internal/store"},
	"internal/clientauth": {"internal/store"},
	"internal/identity":   {"internal/store"},
	"internal/config":     {"internal/policy"},
	"internal/oauth":      {"internal/store", "internal/token", "internal/keys", "internal/clientauth", "internal/identity", "internal/policy"},
}

type pkgInfo struct {
	doc     bool
	imports map[string]bool
	files   []*ast.File
}

func loadPackages(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]*pkgInfo{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		p := pkgs[rel]
		if p == nil {
			p = &pkgInfo{imports: map[string]bool{}}
			pkgs[rel] = p
		}
		p.files = append(p.files, f)
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") ||
			f.Doc != nil && f.Name.Name == "main" && strings.HasPrefix(f.Doc.Text(), "Command ") {
			p.doc = true
		}
		for _, imp := range f.Imports {
			v := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(v, module) {
				p.imports[strings.TrimPrefix(v, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal/oauth")); err != nil {
		t.Fatal("layout test must run from the e2e directory of the module")
	}
	return pkgs
}

// TestDependencyDirection keeps the layering: a leaf package growing an
// upward import fails here, not in review.
func TestDependencyDirection(t *testing.T) {
	for name, p := range loadPackages(t) {
		if name != "cmd/portcullis" && p.imports["internal/app"] {
			t.Errorf("%s imports internal/app; only cmd/portcullis may", name)
		}
		allowed, ok := allowedImports[name]
		if !ok {
			continue
		}
		for imp := range p.imports {
			if !contains(allowed, imp) {
				t.Errorf("%s imports %s; allowed: %v", name, imp, allowed)
			}
		}
	}
}

// TestPackageDocs requires a package comment on every package and a doc
// comment on every exported top-level name.
func TestPackageDocs(t *testing.T) {
	for name, p := range loadPackages(t) {
		if !p.doc {
			t.Errorf("%s has no package comment (\"Package x ...\" or \"Command x ...\")", name)
		}
		for _, f := range p.files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Name.IsExported() && d.Doc == nil && (d.Recv == nil || exportedRecv(d.Recv)) {
						t.Errorf("%s: func %s has no doc comment", name, d.Name.Name)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.IsExported() && d.Doc == nil && ts.Doc == nil {
							t.Errorf("%s: type %s has no doc comment", name, ts.Name.Name)
						}
					}
				}
			}
		}
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
