package catalog

import "testing"

// TestValidateProxyFields covers response_headers, upgrade and
// allow_path_parameters.
func TestValidateProxyFields(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Snapshot)
		want string
	}{
		{"path parameters allowed", func(s *Snapshot) { s.APIs[0].AllowPathParameters = true }, ""},
		{"remove and keep", func(s *Snapshot) {
			s.APIs[0].ResponseHeaders = ResponseHeaders{Remove: []string{"X-Debug-*", "X-Trace"}, Keep: []string{"server", "X-Backend-Region"}}
		}, ""},
		{"remove a bad name", func(s *Snapshot) { s.APIs[0].ResponseHeaders.Remove = []string{"X Debug"} },
			`apis[0].response_headers.remove[0]: "X Debug" is not a header name, or a prefix of one followed by *`},
		{"remove a star inside", func(s *Snapshot) { s.APIs[0].ResponseHeaders.Remove = []string{"X-*-Debug"} },
			`apis[0].response_headers.remove[0]: "X-*-Debug" is not a header name, or a prefix of one followed by *`},
		{"remove everything", func(s *Snapshot) { s.APIs[0].ResponseHeaders.Remove = []string{"*"} },
			`apis[0].response_headers.remove[0]: "*" is not a header name, or a prefix of one followed by *`},
		{"remove framing", func(s *Snapshot) { s.APIs[0].ResponseHeaders.Remove = []string{"content-length"} },
			`apis[0].response_headers.remove[0]: "content-length" frames the response and cannot be removed`},
		{"remove twice", func(s *Snapshot) { s.APIs[0].ResponseHeaders.Remove = []string{"X-A", "x-a"} },
			`apis[0].response_headers.remove[1]: "x-a" is listed twice (also remove[0]; names ignore case)`},
		{"keep what is not removed", func(s *Snapshot) { s.APIs[0].ResponseHeaders.Keep = []string{"X-Request-Id"} },
			`apis[0].response_headers.keep[0]: "X-Request-Id" is not removed by default (Server, X-Powered-By, X-AspNet-Version, X-AspNetMvc-Version, X-Runtime, X-Generator, X-Served-By, X-Server, X-Backend-*), so keeping it changes nothing`},
		{"keep and remove", func(s *Snapshot) {
			s.APIs[0].ResponseHeaders = ResponseHeaders{Remove: []string{"Server"}, Keep: []string{"Server"}}
		}, `apis[0].response_headers.keep[0]: "Server" is also removed by remove`},
		{"websocket", func(s *Snapshot) { s.APIs[0].Operations[0].Upgrade = UpgradeWebSocket }, ""},
		{"websocket any method", func(s *Snapshot) {
			s.APIs[0].Operations[0].Method, s.APIs[0].Operations[0].Upgrade = "*", UpgradeWebSocket
		}, ""},
		{"websocket on post", func(s *Snapshot) {
			s.APIs[0].Operations[0].Method, s.APIs[0].Operations[0].Upgrade = "POST", UpgradeWebSocket
		}, `apis[0].operations[0].upgrade: a websocket handshake is a GET request (RFC 6455 §4.1), not POST`},
		{"h2c", func(s *Snapshot) { s.APIs[0].Operations[0].Upgrade = "h2c" },
			`apis[0].operations[0].upgrade: h2c is never allowed: it would turn the connection into an HTTP/2 one to the upstream that the gateway no longer checks request by request`},
		{"other protocol", func(s *Snapshot) { s.APIs[0].Operations[0].Upgrade = "WebSocket" },
			`apis[0].operations[0].upgrade: "WebSocket" is not websocket (or empty: no upgrade)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			// Audiences are required of an API that needs tokens.
			s.APIs[0].Audiences = []string{"shop"}
			tc.edit(&s)
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestHeaderListed(t *testing.T) {
	list := []string{"Server", "X-Backend-*"}
	for name, want := range map[string]bool{
		"Server": true, "server": true, "X-Backend-Host": true, "x-backend-": true,
		"X-Backend": false, "Servers": false, "X-Powered-By": false,
	} {
		if got := HeaderListed(list, name); got != want {
			t.Errorf("HeaderListed(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCloneResponseHeaders: a clone's lists are its own.
func TestCloneResponseHeaders(t *testing.T) {
	s := validSnapshot()
	s.APIs[0].ResponseHeaders = ResponseHeaders{Remove: []string{"X-A"}, Keep: []string{"Server"}}
	c := s.Clone()
	c.APIs[0].ResponseHeaders.Remove[0] = "X-B"
	c.APIs[0].ResponseHeaders.Keep[0] = "X-Runtime"
	if s.APIs[0].ResponseHeaders.Remove[0] != "X-A" || s.APIs[0].ResponseHeaders.Keep[0] != "Server" {
		t.Errorf("editing a clone changed the original: %+v", s.APIs[0].ResponseHeaders)
	}
}
