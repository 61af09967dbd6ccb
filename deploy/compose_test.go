package deploy

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/server"
)

const composeDir = "../examples/compose"

// composeService is the part of a compose service the tests read.
type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
	ReadOnly    bool              `yaml:"read_only"`
	User        string            `yaml:"user"`
	CapDrop     []string          `yaml:"cap_drop"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// node is a portcullis service with its configuration.
type node struct {
	name  string
	file  string
	roles []server.Role
	cfg   *config.Config
}

// port returns the port of addr.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	return p
}

// listenFor returns the listen address of role in cfg.
func listenFor(cfg *config.Config, role server.Role) string {
	switch role {
	case server.RoleGateway:
		return cfg.Listen.Gateway
	case server.RoleAdmin:
		return cfg.Listen.Admin
	}
	return cfg.Listen.Authz
}

// checkProbe checks a probe aimed at a node: /healthz or /readyz on the
// port of its admin listener.
func checkProbe(t *testing.T, who, path string, probePort string, cfg *config.Config) {
	t.Helper()
	if path != "/healthz" && path != "/readyz" {
		t.Errorf("%s: probes %s; want /healthz or /readyz", who, path)
	}
	if want := port(t, cfg.Listen.Admin); probePort != want {
		t.Errorf("%s: probes port %s; the admin listener is on %s", who, probePort, want)
	}
}

// roleFlag reads the --roles value of a serve command line.
func roleFlag(t *testing.T, argv []string) []server.Role {
	t.Helper()
	var names []string
	for i, a := range argv {
		if a == "--roles" && i+1 < len(argv) {
			names = append(names, argv[i+1])
		} else if v, ok := strings.CutPrefix(a, "--roles="); ok {
			names = append(names, v)
		}
	}
	roles, err := server.ParseRoles(names)
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func TestCompose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(composeDir, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	nodes := map[string]*node{}
	count := map[server.Role]int{}
	for name, s := range doc.Services {
		if len(s.Command) == 0 || s.Command[0] != "serve" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if cmd := parseArgs(t, s.Command); cmd != "serve" {
				t.Fatalf("command %q runs %q", s.Command, cmd)
			}
			n := &node{name: name, roles: roleFlag(t, s.Command)}
			cfgPath := s.Command[slices.Index(s.Command, "--config")+1]
			for _, v := range s.Volumes {
				parts := strings.Split(v, ":")
				if len(parts) >= 2 && parts[1] == cfgPath {
					n.file = filepath.Join(composeDir, parts[0])
					if len(parts) < 3 || parts[2] != "ro" {
						t.Errorf("%s is mounted writable", v)
					}
				}
			}
			if n.file == "" {
				t.Fatalf("no volume mounts %s", cfgPath)
			}
			validateConfig(t, n.file, rolesString(n.roles))
			if n.cfg, err = config.Load(n.file); err != nil {
				t.Fatal(err)
			}
			nodes[name] = n
			for _, r := range n.roles {
				count[r]++
			}

			if !s.ReadOnly {
				t.Error("read_only is not true")
			}
			if uid, _, _ := strings.Cut(s.User, ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
				t.Errorf("user %q: want a numeric non-root uid", s.User)
			}
			if !slices.Equal(s.CapDrop, []string{"ALL"}) {
				t.Errorf("cap_drop %q, want [ALL]", s.CapDrop)
			}
			_, hasKey := s.Environment["PORTCULLIS_MASTER_KEY"]
			if authz := slices.Contains(n.roles, server.RoleAuthz); hasKey != authz {
				t.Errorf("PORTCULLIS_MASTER_KEY set: %v, authz role: %v (only the authorization server holds the key)", hasKey, authz)
			}
			if s.Healthcheck == nil || len(s.Healthcheck.Test) < 3 || s.Healthcheck.Test[0] != "CMD" {
				t.Fatalf("healthcheck %+v: want an exec-form CMD (the image has no shell)", s.Healthcheck)
			}
			argv := s.Healthcheck.Test[1:]
			if filepath.Base(argv[0]) != "portcullis" {
				t.Fatalf("healthcheck runs %s: the image holds only portcullis", argv[0])
			}
			if cmd := parseArgs(t, argv[1:]); cmd != "probe <url>" {
				t.Fatalf("healthcheck runs %q", cmd)
			}
			u, err := url.Parse(argv[len(argv)-1])
			if err != nil {
				t.Fatal(err)
			}
			if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
				t.Errorf("healthcheck probes %s, not loopback: it runs inside the container", u.Host)
			}
			checkProbe(t, "healthcheck", u.Path, u.Port(), n.cfg)
		})
	}
	if count[server.RoleAuthz] != 2 || count[server.RoleGateway] != 3 {
		t.Errorf("%d authz and %d gateway nodes; the example has 2 and 3", count[server.RoleAuthz], count[server.RoleGateway])
	}
	for _, s := range []string{"postgres", "redis", "lb"} {
		if _, ok := doc.Services[s]; !ok {
			t.Errorf("no %s service", s)
		}
	}
	checkNginx(t, filepath.Join(composeDir, "nginx.conf"), nodes)
}

func rolesString(roles []server.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

var (
	upstreamBlock = regexp.MustCompile(`(?s)upstream\s+(\w+)\s*\{(.*?)\}`)
	upstreamLine  = regexp.MustCompile(`(?m)^\s*server\s+([\w.-]+):(\d+)\b`)
)

// checkNginx checks the balancer's upstreams against the nodes: each
// server is a node that runs the upstream's role (named like it) on that
// port, every node is behind the balancer, and no admin listener is.
func checkNginx(t *testing.T, file string, nodes map[string]*node) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	behind := map[string]bool{}
	blocks := upstreamBlock.FindAllStringSubmatch(string(data), -1)
	if len(blocks) == 0 {
		t.Fatal("nginx.conf has no upstream block")
	}
	for _, b := range blocks {
		role := server.Role(b[1])
		if role == server.RoleAdmin || !slices.Contains(server.AllRoles(), role) {
			t.Errorf("upstream %s: name it after the role it balances (authz or gateway)", role)
			continue
		}
		for _, m := range upstreamLine.FindAllStringSubmatch(b[2], -1) {
			host, p := m[1], m[2]
			n, ok := nodes[host]
			if !ok {
				t.Errorf("upstream %s: server %s is not a portcullis service", role, host)
				continue
			}
			if !slices.Contains(n.roles, role) {
				t.Errorf("upstream %s: %s does not run the %s role (--roles %s)", role, host, role, rolesString(n.roles))
			}
			if want := port(t, listenFor(n.cfg, role)); p != want {
				t.Errorf("upstream %s: %s:%s, but %s listens for %s on port %s", role, host, p, n.file, role, want)
			}
			if p == port(t, n.cfg.Listen.Admin) {
				t.Errorf("upstream %s: %s:%s is the admin listener, which must stay internal", role, host, p)
			}
			behind[host] = true
		}
	}
	for name := range nodes {
		if !behind[name] {
			t.Errorf("node %s is behind no upstream", name)
		}
	}
}
