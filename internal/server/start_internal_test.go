package server

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRoles(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []Role
		wantErr string
	}{
		{name: "none means all", in: nil, want: []Role{RoleAuthz, RoleGateway, RoleAdmin}},
		{name: "comma list", in: []string{"admin,authz"}, want: []Role{RoleAdmin, RoleAuthz}},
		{name: "repeated and spaced", in: []string{"admin", " admin ", ""}, want: []Role{RoleAdmin}},
		{name: "unknown", in: []string{"authz,portal"}, wantErr: `unknown role "portal"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRoles(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRoles error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRoles: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRoles mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "http://127.0.0.1:80"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 1}, "http://[::1]:1"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 2}, "http://[::1]:2"},
	}
	for _, tt := range tests {
		t.Run(tt.addr.String(), func(t *testing.T) {
			if got := baseURL(tt.addr); got != tt.want {
				t.Errorf("baseURL(%v) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		dsn      string
		wantPath string
		wantOK   bool
	}{
		{"/var/lib/portcullis/p.db", "/var/lib/portcullis/p.db", true},
		{"sqlite:data/p.db", "data/p.db", true},
		{"file:data/p.db?_pragma=busy_timeout(5000)", "data/p.db", true},
		{"postgres://u:pw@db/portcullis", "", false},
		{"postgresql://db/portcullis", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			path, ok := sqlitePath(tt.dsn)
			if path != tt.wantPath || ok != tt.wantOK {
				t.Errorf("sqlitePath(%q) = %q, %t; want %q, %t", tt.dsn, path, ok, tt.wantPath, tt.wantOK)
			}
		})
	}
}

func TestHasPortZero(t *testing.T) {
	tests := map[string]bool{"127.0.0.1:0": true, ":0": true, "[::1]:0": true, "127.0.0.1:8080": false, "nonsense": false}
	for addr, want := range tests {
		if got := hasPortZero(addr); got != want {
			t.Errorf("hasPortZero(%q) = %t, want %t", addr, got, want)
		}
	}
}
