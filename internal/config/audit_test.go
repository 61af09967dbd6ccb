package config

import (
	"errors"
	"slices"
	"testing"
)

func TestAuditStreamDefaults(t *testing.T) {
	c, err := Parse("audit.yaml", []byte("audit:\n  stream:\n    file: trail.jsonl\n    syslog: {}\n"))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	s := c.Audit.Stream
	if !s.Enabled() {
		t.Error("Enabled() = false with a file and syslog set")
	}
	// A relative path is kept as written; the server resolves it against
	// the file's directory.
	if s.File != "trail.jsonl" {
		t.Errorf("file = %q, want trail.jsonl", s.File)
	}
	if s.Syslog == nil {
		t.Fatal("syslog: {} read as absent")
	}
	got := *s.Syslog
	want := AuditSyslog{Tag: "portcullis-audit", Facility: "auth"}
	if got != want {
		t.Errorf("syslog = %+v, want %+v", got, want)
	}
	if code := got.FacilityCode(); code != 4 {
		t.Errorf("FacilityCode() = %d, want 4 (auth)", code)
	}
	if d := s.Interval; d != Duration(DefaultAuditStreamInterval) {
		t.Errorf("interval = %v, want the default 1s", d)
	}
	if Default().Audit.Stream.Enabled() {
		t.Error("the default configuration streams the audit trail")
	}
}

// TestAuditStreamValidate checks each rule names its field.
func TestAuditStreamValidate(t *testing.T) {
	tests := []struct {
		name   string
		stream AuditStream
		fields []string // the fields the errors name; none for a valid one
	}{
		{"off", AuditStream{}, nil},
		{"relative file", AuditStream{File: "audit/trail.jsonl"}, nil},
		{"local syslog", AuditStream{Syslog: &AuditSyslog{}}, nil},
		{"udp syslog", AuditStream{Syslog: &AuditSyslog{Network: "udp", Address: "127.0.0.1:514", Facility: "local7"}}, nil},
		{"unix syslog", AuditStream{Syslog: &AuditSyslog{Network: "unixgram", Address: "/dev/log"}}, nil},
		{"file with a newline", AuditStream{File: "a\nb"}, []string{"audit.stream.file"}},
		{"unknown facility", AuditStream{Syslog: &AuditSyslog{Facility: "security"}}, []string{"audit.stream.syslog.facility"}},
		{"unknown network", AuditStream{Syslog: &AuditSyslog{Network: "http", Address: "x:1"}}, []string{"audit.stream.syslog.network"}},
		{"tcp without address", AuditStream{Syslog: &AuditSyslog{Network: "tcp"}}, []string{"audit.stream.syslog.address"}},
		{"unix without path", AuditStream{Syslog: &AuditSyslog{Network: "unix"}}, []string{"audit.stream.syslog.address"}},
		{"local with address", AuditStream{Syslog: &AuditSyslog{Address: "127.0.0.1:514"}}, []string{"audit.stream.syslog.address"}},
		{"tag with colon", AuditStream{Syslog: &AuditSyslog{Tag: "a:b"}}, []string{"audit.stream.syslog.tag"}},
		{"tag too long", AuditStream{Syslog: &AuditSyslog{Tag: "a123456789012345678901234567890123"}}, []string{"audit.stream.syslog.tag"}},
		{"interval too long", AuditStream{Interval: Duration(2 * DefaultAuditStreamInterval * 3600)}, []string{"audit.stream.interval"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Audit: Audit{Stream: tc.stream}}
			c.ApplyDefaults()
			var fields []string
			for _, err := range unjoin(c.Validate()) {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *FieldError", err)
				}
				fields = append(fields, fe.Field)
			}
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("Validate() errors at %q, want %q", fields, tc.fields)
			}
		})
	}
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
