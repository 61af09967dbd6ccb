package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/printable"
)

// Audit is the audit section: what the node does with the audit trail
// besides keeping it in the store.
type Audit struct {
	// Stream copies the trail, as it grows, to a file or syslog. Neither
	// set means no stream.
	Stream AuditStream `yaml:"stream"`
}

// AuditStream copies each audit record, as it is written, to a file, to
// syslog or to both: a copy off the database that its administrators
// cannot quietly rewrite.
type AuditStream struct {
	// File is appended one export line per record (the format of
	// `portcullis audit export`), created with mode 0600. Relative paths
	// are relative to the configuration file's directory. Empty means no
	// file.
	File string `yaml:"file"`
	// Syslog sends one message per record. Absent (or null) means no
	// syslog; an empty mapping ({}) means the local syslog socket with the
	// defaults.
	Syslog *AuditSyslog `yaml:"syslog"`
	// Interval is how often new records are looked for. Zero means 1s.
	Interval Duration `yaml:"interval"`
}

// AuditSyslog says where audit records go by syslog.
type AuditSyslog struct {
	// Network is "" for the local syslog socket, or udp, tcp, unix or
	// unixgram. Empty means the local socket.
	Network string `yaml:"network"`
	// Address is host:port for udp and tcp, a socket path for unix and
	// unixgram; it must be empty for the local socket.
	Address string `yaml:"address"`
	// Tag is the syslog tag (program name). Empty means
	// "portcullis-audit".
	Tag string `yaml:"tag"`
	// Facility is the syslog facility by name (auth, authpriv, local0,
	// ...). Empty means auth.
	Facility string `yaml:"facility"`
}

// Enabled reports whether the stream has any sink.
func (s AuditStream) Enabled() bool { return s.File != "" || s.Syslog != nil }

// The audit stream defaults, as the field comments state them.
const (
	DefaultAuditStreamInterval = time.Second
	defaultAuditSyslogTag      = "portcullis-audit"
	defaultAuditSyslogFacility = "auth"
)

// syslogFacilities maps the facility names to their codes (RFC 5424
// §6.2.1); they are the facilities Go's log/syslog names.
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// maxSyslogTag is RFC 3164 §4.1.3's bound on the TAG field.
const maxSyslogTag = 32

// FacilityCode is Facility's code (RFC 5424 §6.2.1); valid after
// Validate, -1 for a name Validate would reject.
func (s AuditSyslog) FacilityCode() int {
	if code, ok := syslogFacilities[s.Facility]; ok {
		return code
	}
	return -1
}

// ApplyDefaults fills every zero field of the section with its default;
// Config.ApplyDefaults calls it. The sinks stay off unless set.
func (a *Audit) ApplyDefaults() {
	setDuration(&a.Stream.Interval, DefaultAuditStreamInterval)
	if s := a.Stream.Syslog; s != nil {
		setString(&s.Tag, defaultAuditSyslogTag)
		setString(&s.Facility, defaultAuditSyslogFacility)
	}
}

// auditStream checks the audit.stream section. The interval is checked
// even with no sink, so turning one on never uncovers an old mistake.
func (v *validator) auditStream() {
	s := v.c.Audit.Stream
	v.duration("audit.stream.interval", s.Interval, duration.Bounds{Min: 10 * time.Millisecond, Max: time.Hour})
	if printable.HasControl(s.File) {
		v.add("audit.stream.file", "must be a file path without control characters", nil)
	}
	if s.Syslog != nil {
		v.auditSyslog(s.Syslog)
	}
}

// auditSyslog checks audit.stream.syslog.
func (v *validator) auditSyslog(s *AuditSyslog) {
	const field = "audit.stream.syslog"
	switch s.Network {
	default:
		v.add(field+".network", fmt.Sprintf(`%q is not one of "" (the local syslog socket), udp, tcp, unix, unixgram`, s.Network), nil)
	case "":
		if s.Address != "" {
			v.add(field+".address", "must be empty when network is empty (the local syslog socket); set network to udp, tcp, unix or unixgram to use it", nil)
		}
	case "udp", "tcp":
		v.hostPort(field+".address", s.Address)
	case "unix", "unixgram":
		if s.Address == "" || printable.HasControl(s.Address) {
			v.add(field+".address", "must be the path of a syslog socket, without control characters", nil)
		}
	}
	if len(s.Tag) == 0 || len(s.Tag) > maxSyslogTag || strings.IndexFunc(s.Tag, badTagRune) >= 0 {
		v.add(field+".tag", fmt.Sprintf("must be 1 to %d characters, without spaces, control characters, ':' or '['", maxSyslogTag), nil)
	}
	if _, ok := syslogFacilities[s.Facility]; !ok {
		v.add(field+".facility", fmt.Sprintf("%q is not a syslog facility: one of %s", s.Facility,
			strings.Join(slices.Sorted(maps.Keys(syslogFacilities)), ", ")), nil)
	}
}

// badTagRune refuses what would end the TAG field early in a syslog
// message ("tag[pid]: msg") or break the line.
func badTagRune(r rune) bool {
	return printable.IsSpaceOrControl(r) || r == ':' || r == '[' || r == ']'
}
