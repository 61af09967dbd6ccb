package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update rewrites generated documentation (the package diagram of
// docs/architecture.md) from the source tree instead of comparing it.
var update = flag.Bool("update", false, "rewrite generated docs from the source tree")

const module = "github.com/portcullis/portcullis/"

// layer is what one package of the module may import from the module.
// Paths are relative to the module root.
type layer struct {
	// may lists the module packages the package may import; anyPackage
	// allows every one except those in never.
	may []string
	// never lists imports that are refused even under anyPackage: the
	// rules DESIGN.md states outright, so a failure names the rule.
	never []string
}

// anyPackage in a layer's may list allows any module package.
const anyPackage = "*"

// leafPackages hold one shared rule each (scope syntax, loopback hosts,
// control characters, durations) and import nothing of ours, so every
// domain package may use them.
var leafPackages = []string{"internal/clientcert", "internal/duration", "internal/loopback", "internal/printable", "internal/scope"}

// gatewayMay and gatewayNever keep the gateway side free of the
// authorization server and of SQL (DESIGN: "the gateway never issues
// tokens"; "the gateway links no SQL driver").
var (
	gatewayMay = plus(leafPackages, "internal/catalog", "internal/contract", "internal/phantom", "internal/policy", "internal/ratelimit", "internal/httpsig", "internal/token", "internal/waf", "internal/fieldrules", "internal/tokenhandler",
		// Tokens the gateway obtains for upstreams (upstream_token).
		"internal/backendtoken",
		// DPoP proofs (RFC 9449) are checked with the backends' own package.
		"pkg/verify",
		// Spans of each request and traceparent to the issuer and upstreams.
		"internal/tracing")
	gatewayNever = []string{"internal/admin", "internal/clientauth", "internal/config", "internal/identity",
		"internal/keys", "internal/oauth", "internal/registry", "internal/store"}
)

// layers is the dependency direction of DESIGN.md for the target layout:
// every package of the module is listed with the module packages it may
// import (from its non-test files). Dependencies point down; only the
// packages that wire a node (server, demo) and the tests may reach across.
// A package missing here fails TestDependencyDirection; an entry whose
// package does not exist (yet) is fine.
var layers = map[string]layer{
	// Shared rules.
	"internal/clientcert": {},
	"internal/duration":   {},
	"internal/loopback":   {},
	"internal/printable":  {},
	"internal/scope":      {},
	// Log plumbing: the asynchronous handler of the access log.
	"internal/asynclog": {},
	// The retry schedule of the Redis followers.
	"internal/backoff": {},
	// OpenTelemetry tracing: set-up from OTEL_*, W3C propagation, the
	// client and server spans of HTTP, trace ids on log lines.
	"internal/tracing": {},
	// The DPoP replay cache shared through Redis (a verify.ReplayCache).
	"internal/replay": {may: []string{"pkg/verify"}},

	// The bottom: persistence, token formats, policies.
	"internal/store":  {},
	"internal/token":  {may: []string{"internal/loopback", "internal/printable", "internal/scope", "pkg/issuer"}},
	"internal/policy": {may: leafPackages},
	// Response field rules: selectors, CEL conditions, JWE per field.
	"internal/fieldrules": {},
	// Request contracts: JSON Schemas compiled once, the body guards.
	"internal/contract": {},
	// Injection inspection: Coraza and the OWASP Core Rule Set, compiled
	// once per configuration; it knows nothing of the catalog or HTTP routing.
	"internal/waf": {},
	// HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530).
	"internal/httpsig": {},

	// The authorization server's domain; each package declares the store
	// interfaces it needs.
	"internal/keys":                  {may: plus(leafPackages, "internal/store", "internal/token")},
	"internal/clientauth":            {may: plus(leafPackages, "internal/store")},
	"internal/identity":              {may: plus(leafPackages, "internal/store")},
	"internal/identity/identitytest": {may: plus(leafPackages, "internal/identity", "internal/store")},
	"internal/oauth": {may: plus(leafPackages, "internal/clientauth", "internal/identity", "internal/keys",
		"internal/policy", "internal/store", "internal/token",
		// DPoP proofs (RFC 9449) at the token endpoint.
		"pkg/verify")},
	"internal/registry": {may: plus(leafPackages, "internal/audit", "internal/clientauth", "internal/identity", "internal/keys", "internal/store")},

	// The API model and its readers. The catalog is below the
	// configuration and the store, never above.
	"internal/catalog": {
		may:   plus(leafPackages, "internal/catalog/openapi", "internal/contract", "internal/fieldrules", "internal/httpsig", "internal/openapi", "internal/policy"),
		never: []string{"internal/config", "internal/store"},
	},
	"internal/openapi":                 {may: plus(leafPackages, "internal/catalog")},
	"internal/catalog/openapi":         {may: plus(leafPackages, "internal/catalog")},
	"internal/config":                  {may: plus(leafPackages, "internal/catalog", "internal/policy", "internal/tokenhandler", "pkg/verify")},
	"internal/ratelimit":               {may: plus(leafPackages, "internal/catalog", "internal/backoff")},
	"internal/ratelimit/ratelimittest": {may: plus(leafPackages, "internal/catalog", "internal/ratelimit")},

	// The gateway side.
	// The gateway as an OAuth client of upstreams' authorization servers.
	"internal/backendtoken":        {may: plus(leafPackages, "internal/token"), never: []string{"internal/store"}},
	"internal/phantom":             {may: plus(leafPackages, "internal/token", "internal/tracing"), never: []string{"internal/store"}},
	"internal/phantom/phantomtest": {may: plus(leafPackages, "internal/phantom", "internal/token")},
	"internal/gateway":             {may: gatewayMay, never: gatewayNever},
	// The token handler of single-page apps: the OAuth agent (a client
	// of the issuer over HTTP, never its packages) and the cookie side of
	// the gateway's OAuth proxy.
	"internal/tokenhandler": {may: plus(leafPackages, "internal/catalog", "internal/token"), never: gatewayNever},
	"internal/gateway/gatewaytest": {
		may:   plus(gatewayMay, "internal/gateway", "internal/phantom/phantomtest"),
		never: gatewayNever,
	},

	// Shared test helpers.
	"internal/logtest":         {},
	"internal/store/storetest": {},
	// Certificates for mutual-TLS tests (RFC 8705).
	"internal/clientcert/clientcerttest": {},

	// The control plane, wiring and the command line. The audit trail
	// sits on the store; the domain services above it record through it.
	"internal/audit": {may: plus(leafPackages, "internal/store")},
	// The stored catalog's service: plan, apply (audited), export.
	"internal/publish": {
		may:   plus(leafPackages, "internal/audit", "internal/catalog", "internal/store"),
		never: []string{"internal/gateway"},
	},
	"internal/admin": {
		may:   plus(leafPackages, "internal/audit", "internal/catalog", "internal/publish", "internal/ratelimit", "internal/registry"),
		never: []string{"internal/store"},
	},
	// The admin API's client (the CLI's remote mode) speaks its wire
	// types and nothing below them.
	"internal/adminclient": {
		may:   plus(leafPackages, "internal/admin", "internal/registry"),
		never: []string{"internal/store", "internal/server"},
	},
	// The admin console reads through the admin API's verifier and the
	// domain services' views; the server adapts the store to it.
	"internal/console": {
		may:   plus(leafPackages, "internal/admin", "internal/audit", "internal/registry"),
		never: []string{"internal/store", "internal/server"},
	},
	"internal/server":            {may: []string{anyPackage}, never: []string{"internal/cli", "internal/demo"}},
	"internal/server/servertest": {may: []string{anyPackage}, never: []string{"internal/cli", "internal/demo"}},
	"internal/demo":              {may: []string{anyPackage}, never: []string{"internal/cli"}},
	"internal/cli": {
		// DESIGN: commands call domain services, never the store.
		may: plus(leafPackages, "internal/admin", "internal/adminclient", "internal/audit", "internal/catalog", "internal/catalog/openapi",
			"internal/config", "internal/demo", "internal/keys", "internal/openapi", "internal/registry", "internal/server"),
		never: []string{"internal/store"},
	},
	"cmd/portcullis": {may: []string{"internal/cli"}},

	// Outside internal/. pkg/issuer reads issuer metadata and key sets
	// for pkg/verify and internal/token alike.
	"pkg/issuer": {},
	"pkg/verify": {may: []string{"pkg/issuer"}},
	// The API client's check of a signed response.
	"pkg/httpsig":        {may: []string{"internal/httpsig"}},
	"examples/warehouse": {},
	"e2e":                {may: []string{anyPackage}},
	// The cluster harness drives the built binary as an operator would
	// (command line, HTTP, signals) and imports none of the module.
	"e2e/cluster":    {},
	"bench/baseline": {},
	// Signs the DPoP proofs the gateway load harness sends.
	"bench/dpopproofs": {},
	"bench/plainproxy": {},
	// The deployment files' tests (Dockerfile, systemd, Kubernetes,
	// compose); nothing imports it.
	"deploy": {},
}

// plus returns base followed by more, in a new slice.
func plus(base []string, more ...string) []string {
	return append(slices.Clip(base), more...)
}

// isTestHelper reports whether pkg is a test-helper package, named
// "<name>test": the fakes of a package inside it (gatewaytest,
// phantomtest) or a shared one (logtest).
func isTestHelper(pkg string) bool {
	return strings.HasSuffix(path.Base(pkg), "test") && pkg != "e2e"
}

type pkgInfo struct {
	doc bool
	// imports are the module packages the non-test files import.
	imports map[string]bool
	// files are the parsed non-test files; a test-only package has none.
	files []*ast.File
}

// moduleRoot is the directory of the module's go.mod, found upwards from
// the test's working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module "+strings.TrimSuffix(module, "/")+"\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("layout tests must run inside the module " + module)
		}
		dir = parent
	}
}

// loadPackages parses every package of the module: each directory with a
// .go file, except testdata, hidden and "_" directories and nested
// modules. Keys are paths relative to the module root.
func loadPackages(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	root := moduleRoot(t)
	pkgs := map[string]*pkgInfo{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); p != root && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		pi := pkgs[rel]
		if pi == nil {
			pi = &pkgInfo{imports: map[string]bool{}}
			pkgs[rel] = pi
		}
		if strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ignored(f) {
			return nil
		}
		pi.files = append(pi.files, f)
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") ||
			f.Doc != nil && f.Name.Name == "main" && strings.HasPrefix(f.Doc.Text(), "Command ") {
			pi.doc = true
		}
		for _, imp := range f.Imports {
			v := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(v, module) {
				pi.imports[strings.TrimPrefix(v, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// ignored reports whether f is excluded from every build by a
// "//go:build ignore" line, as generators and examples are.
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if expr, err := constraint.Parse(c.Text); err == nil && expr.String() == "ignore" {
				return true
			}
		}
	}
	return false
}

// TestDependencyDirection keeps the layering: every package is listed in
// layers, and a package growing an import its layer does not allow fails
// here, not in review.
func TestDependencyDirection(t *testing.T) {
	for name, l := range layers {
		for _, dep := range slices.Concat(l.may, l.never) {
			if _, ok := layers[dep]; !ok && dep != anyPackage {
				t.Errorf("layers[%q] names %s, which is not in layers itself (a typo?)", name, dep)
			}
		}
	}
	pkgs := loadPackages(t)
	if _, ok := pkgs["internal/oauth"]; !ok {
		t.Fatal("no internal/oauth found: the walk did not start at the module root")
	}
	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		p := pkgs[name]
		imports := slices.Sorted(maps.Keys(p.imports))
		l, ok := layers[name]
		if !ok {
			t.Errorf("%s is not in layers (e2e/layout_test.go): add it with the module packages it may import (today it imports %v)",
				name, imports)
			continue
		}
		for _, imp := range imports {
			switch {
			case slices.Contains(l.never, imp):
				t.Errorf("%s imports %s, which it must never import (DESIGN.md, Layout)", name, imp)
			case isTestHelper(imp) && !isTestHelper(name) && name != "e2e":
				t.Errorf("%s imports the test helper %s; production code must never import test helpers", name, imp)
			case !slices.Contains(l.may, anyPackage) && !slices.Contains(l.may, imp):
				t.Errorf("%s imports %s; its layer allows only %v", name, imp, l.may)
			}
		}
	}
}

// sqlPackages are the SQL drivers and migration tools (each a module
// path, so its subpackages count too) that the gateway may not link.
var sqlPackages = []string{
	"github.com/jackc/pgx",
	"github.com/lib/pq",
	"github.com/mattn/go-sqlite3",
	"github.com/pressly/goose",
	"modernc.org/sqlite",
}

// isSQLPackage reports whether pkg is database/sql itself (the interfaces
// of database/sql/driver, which uuid packages implement, are harmless) or
// part of a driver or migration tool.
func isSQLPackage(pkg string) bool {
	if pkg == "database/sql" {
		return true
	}
	for _, p := range sqlPackages {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// TestGatewayLinksNoSQL asserts DESIGN's "the gateway links no SQL
// driver": a gateway node is built from what internal/gateway needs, so
// SQL reaching its dependencies, even through a package that is allowed,
// fails here. Adapters to the store live in internal/server.
func TestGatewayLinksNoSQL(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool is not on PATH (%v), so the gateway's dependencies cannot be listed", err)
	}
	const gateway = module + "internal/gateway"
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-e", "-deps",
		"-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./internal/gateway")
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./internal/gateway: %v\n%s", err, stderr.Bytes())
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	if _, ok := graph[gateway]; !ok {
		t.Fatalf("go list -deps did not list %s:\n%s", gateway, out)
	}
	// Report where SQL enters: each non-SQL package that imports some.
	entries := map[string][]string{}
	for pkg, imps := range graph {
		if isSQLPackage(pkg) {
			continue
		}
		for _, imp := range imps {
			if isSQLPackage(imp) {
				entries[pkg] = append(entries[pkg], imp)
			}
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(entries)) {
		slices.Sort(entries[pkg])
		t.Errorf("internal/gateway links SQL: %s imports %s (via %s); the gateway must link no SQL driver or migration package, "+
			"so move what needs the store behind an interface that internal/server implements",
			strings.TrimPrefix(pkg, module), strings.Join(entries[pkg], ", "), strings.Join(importChain(graph, gateway, pkg), " → "))
	}
}

// importChain is a shortest import path from "from" to "to" in graph, with
// the module prefix trimmed for reading.
func importChain(graph map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 && prev[to] == "" {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	var chain []string
	for p := to; p != ""; p = prev[p] {
		chain = append(chain, strings.TrimPrefix(p, module))
	}
	slices.Reverse(chain)
	return chain
}

// TestPackageDocs requires a package comment on every package and a doc
// comment on every exported top-level name.
func TestPackageDocs(t *testing.T) {
	pkgs := loadPackages(t)
	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		p := pkgs[name]
		if len(p.files) == 0 {
			continue // test files only
		}
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
	if g, ok := typ.(*ast.IndexExpr); ok {
		typ = g.X
	}
	if g, ok := typ.(*ast.IndexListExpr); ok {
		typ = g.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

// The generated part of docs/architecture.md lies between these lines.
const (
	architectureDoc = "docs/architecture.md"
	diagramBegin    = "<!-- BEGIN GENERATED package diagram: go test ./e2e -run TestArchitectureDiagram -update -->"
	diagramEnd      = "<!-- END GENERATED package diagram -->"
)

// TestArchitectureDiagram keeps the package diagram of
// docs/architecture.md true to the source tree: it is regenerated from the
// imports of the non-test files and compared; -update rewrites it.
func TestArchitectureDiagram(t *testing.T) {
	file := filepath.Join(moduleRoot(t), filepath.FromSlash(architectureDoc))
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	begin := strings.Index(text, diagramBegin)
	end := strings.Index(text, diagramEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no generated block: add the lines\n%s\n%s\nand run go test ./e2e -run TestArchitectureDiagram -update",
			architectureDoc, diagramBegin, diagramEnd)
	}
	begin += len(diagramBegin)
	got := text[begin:end]
	want := "\n" + renderDiagram(loadPackages(t))
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(file, []byte(text[:begin]+want+text[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the package diagram in %s", architectureDoc)
		return
	}
	t.Errorf("the package diagram in %s is out of date (-doc +tree):\n%s\nrun go test ./e2e -run TestArchitectureDiagram -update",
		architectureDoc, cmp.Diff(got, want))
}

// renderDiagram draws the module's import graph as a Mermaid flowchart:
// one node per package, one arrow per import of a non-test file. The leaf
// packages, the test helpers and packages without module-internal imports
// either way are listed under the graph instead of drawn, to keep it
// readable.
func renderDiagram(pkgs map[string]*pkgInfo) string {
	drawn := func(p string) bool { return !slices.Contains(leafPackages, p) && !isTestHelper(p) }
	type edge struct{ from, to string }
	var edges []edge
	nodes := map[string]bool{}
	leafUsers := map[string][]string{}
	for _, from := range slices.Sorted(maps.Keys(pkgs)) {
		for _, to := range slices.Sorted(maps.Keys(pkgs[from].imports)) {
			switch {
			case slices.Contains(leafPackages, to) && drawn(from):
				leafUsers[to] = append(leafUsers[to], from)
			case drawn(from) && drawn(to):
				edges = append(edges, edge{from, to})
				nodes[from], nodes[to] = true, true
			}
		}
	}
	id := strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace
	label := func(p string) string { return strings.TrimPrefix(p, "internal/") }

	var b strings.Builder
	b.WriteString("```mermaid\ngraph TD\n")
	for _, n := range slices.Sorted(maps.Keys(nodes)) {
		fmt.Fprintf(&b, "    %s[%q]\n", id(n), label(n))
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "    %s --> %s\n", id(e.from), id(e.to))
	}
	b.WriteString("```\n\nNot drawn, to keep the graph readable:\n\n")
	b.WriteString("- the leaf packages, which import nothing of ours:\n")
	for _, leaf := range leafPackages {
		if _, ok := pkgs[leaf]; !ok {
			continue
		}
		users := "nothing yet"
		if u := leafUsers[leaf]; len(u) > 0 {
			labels := make([]string, len(u))
			for i, p := range u {
				labels[i] = label(p)
			}
			users = strings.Join(labels, ", ")
		}
		fmt.Fprintf(&b, "  - `%s`, imported by %s\n", leaf, users)
	}
	var helpers, alone []string
	for _, p := range slices.Sorted(maps.Keys(pkgs)) {
		switch {
		case isTestHelper(p):
			helpers = append(helpers, "`"+p+"`")
		case drawn(p) && !nodes[p]:
			alone = append(alone, "`"+p+"`")
		}
	}
	if len(helpers) > 0 {
		fmt.Fprintf(&b, "- the test helpers: %s\n", strings.Join(helpers, ", "))
	}
	if len(alone) > 0 {
		fmt.Fprintf(&b, "- packages without module-internal imports either way: %s\n", strings.Join(alone, ", "))
	}
	return b.String()
}
