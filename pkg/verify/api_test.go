package verify

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/portcullis/portcullis"

// allowedDependency reports whether the package may import path: the
// standard library, go-jose and pkg/issuer (public too, and itself bound
// to the same two), so a backend that depends on this package pulls in
// nothing of Portcullis's internals.
func allowedDependency(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") || path == modulePath+"/pkg/issuer" ||
		path == "github.com/go-jose/go-jose/v4" || strings.HasPrefix(path, "github.com/go-jose/go-jose/v4/")
}

// TestImportsNoInternalPackage: pkg/verify is public; DESIGN.md says it
// must never import anything under internal/.
func TestImportsNoInternalPackage(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, "/internal/") || strings.HasSuffix(imp, "/internal") || !allowedDependency(imp) {
			t.Errorf("pkg/verify imports %s; only the standard library, go-jose and pkg/issuer are allowed", imp)
		}
	}
	for _, imp := range append(pkg.TestImports, pkg.XTestImports...) {
		if strings.HasPrefix(imp, modulePath+"/internal") {
			t.Errorf("a test of pkg/verify imports %s", imp)
		}
	}
	// The whole dependency graph, as the go command sees it.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies")
	}
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != modulePath+"/pkg/verify" && !allowedDependency(dep) {
			t.Errorf("pkg/verify depends on %s", dep)
		}
	}
}

// exportedNames parses the package's non-test files and returns every
// exported name it declares, methods as Type.Method, with a description
// of what is wrong with its doc comment when something is.
func exportedNames(t *testing.T) (names []string, badDocs []string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				full := d.Name.Name
				if d.Recv != nil {
					recv := receiverType(d.Recv.List[0].Type)
					if !ast.IsExported(recv) {
						continue
					}
					full = recv + "." + d.Name.Name
				}
				names = append(names, full)
				if !docStartsWith(d.Doc, d.Name.Name) {
					badDocs = append(badDocs, name+": "+full)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					var idents []*ast.Ident
					var doc *ast.CommentGroup
					switch s := spec.(type) {
					case *ast.TypeSpec:
						idents, doc = []*ast.Ident{s.Name}, s.Doc
					case *ast.ValueSpec:
						idents, doc = s.Names, s.Doc
					}
					if doc == nil && !d.Lparen.IsValid() {
						doc = d.Doc
					}
					for _, id := range idents {
						if !id.IsExported() {
							continue
						}
						names = append(names, id.Name)
						// In a group, the group's comment may speak for
						// specs that have none.
						if !docStartsWith(doc, id.Name) && (doc != nil || d.Doc == nil) {
							badDocs = append(badDocs, name+": "+id.Name)
						}
					}
				}
			}
		}
	}
	return names, badDocs
}

func receiverType(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverType(x.X)
	case *ast.Ident:
		return x.Name
	case *ast.IndexExpr:
		return receiverType(x.X)
	}
	return ""
}

func docStartsWith(doc *ast.CommentGroup, name string) bool {
	if doc == nil {
		return false
	}
	text := doc.Text()
	return strings.HasPrefix(text, name+" ") || strings.HasPrefix(text, name+":") || strings.HasPrefix(text, name+",")
}

// TestExportedNamesDocumented: every exported name has a doc comment that
// starts with it (STYLE.md, Docs).
func TestExportedNamesDocumented(t *testing.T) {
	_, bad := exportedNames(t)
	for _, b := range bad {
		t.Errorf("%s: doc comment missing or not starting with the name", b)
	}
}

// TestExportedNamesTested: every exported name of the package is used by
// some test, so no part of the public API ships untried.
func TestExportedNamesTested(t *testing.T) {
	names, _ := exportedNames(t)
	if len(names) < 20 {
		t.Fatalf("found only %d exported names: the parser missed some", len(names))
	}
	used := map[string]bool{}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "api_test.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				used[id.Name] = true
			}
			return true
		})
	}
	slices.Sort(names)
	for _, n := range names {
		_, member, _ := strings.Cut(n, ".")
		if member == "" {
			member = n
		}
		if !used[member] {
			t.Errorf("exported %s is not used by any test", n)
		}
	}
}
