package loopback

import "testing"

func TestHostAndIP(t *testing.T) {
	tests := []struct {
		in       string
		host, ip bool
	}{
		{"localhost", true, false},
		{"LocalHost", true, false},
		{"127.0.0.1", true, true},
		{"127.1.2.3", true, true},
		{"::1", true, true},
		{"::ffff:127.0.0.1", true, true},
		{"10.0.0.1", false, false},
		{"localhost.example.com", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := Host(tt.in); got != tt.host {
			t.Errorf("Host(%q) = %t, want %t", tt.in, got, tt.host)
		}
		if got := IP(tt.in); got != tt.ip {
			t.Errorf("IP(%q) = %t, want %t", tt.in, got, tt.ip)
		}
	}
}

func TestHTTPURL(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://localhost", true},
		{"http://[::1]:8080/x", true},
		{"https://127.0.0.1", false},
		{"http://example.com", false},
		{"http://127.9.9.9", true},
		{"http://0.0.0.0:8080", false},
		{"http://localhost.evil.test", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		if got := HTTPURL(tt.in); got != tt.want {
			t.Errorf("HTTPURL(%q) = %t, want %t", tt.in, got, tt.want)
		}
	}
}
