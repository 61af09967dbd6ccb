package tokenhandler_test

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

// TestExportedNamesHaveDocs enforces STYLE.md: a package comment, and a
// comment starting with its name on every exported declaration, in this
// package and its test helpers.
func TestExportedNamesHaveDocs(t *testing.T) {
	for _, dir := range []string{"."} {
		fset := token.NewFileSet()
		files, err := fs.Glob(os.DirFS(dir), "*.go")
		if err != nil {
			t.Fatal(err)
		}
		hasPkgDoc := false
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc != nil {
				hasPkgDoc = true
			}
			for _, missing := range undocumented(f) {
				t.Errorf("%s: %s lacks a doc comment starting with its name", fset.Position(missing.Pos()), missing.Name)
			}
		}
		if !hasPkgDoc {
			t.Errorf("package in %s has no package comment", dir)
		}
	}
}

// undocumented returns the exported identifiers of f whose doc comment is
// missing or does not start with the name.
func undocumented(f *ast.File) []*ast.Ident {
	var out []*ast.Ident
	check := func(id *ast.Ident, docs ...*ast.CommentGroup) {
		if !id.IsExported() {
			return
		}
		for _, d := range docs {
			if d != nil && strings.HasPrefix(d.Text(), id.Name+" ") {
				return
			}
		}
		out = append(out, id)
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && !exportedRecv(d.Recv) {
				continue
			}
			check(d.Name, d.Doc)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					check(s.Name, s.Doc, d.Doc)
					if st, ok := s.Type.(*ast.StructType); ok && s.Name.IsExported() {
						for _, fld := range st.Fields.List {
							for _, n := range fld.Names {
								check(n, fld.Doc)
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						check(n, s.Doc, d.Doc)
					}
				}
			}
		}
	}
	return out
}

func exportedRecv(fl *ast.FieldList) bool {
	typ := fl.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}
