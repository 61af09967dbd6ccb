package audit

import (
	"context"
	"fmt"
)

// SyslogOptions say where a SyslogSink sends records.
type SyslogOptions struct {
	// Network is "" for the local syslog socket, or udp, tcp, unix or
	// unixgram.
	Network string
	// Address is host:port, or a socket path; "" with the local socket.
	Address string
	// Tag is the syslog tag (program name).
	Tag string
	// Facility is the facility code of RFC 5424 §6.2.1 (4 is auth, 16 to
	// 23 are local0 to local7).
	Facility int
}

// syslogWriter is the part of a log/syslog writer the sink uses.
type syslogWriter interface {
	Info(msg string) error
	Close() error
}

// SyslogSink sends each record to syslog as one message, severity info,
// the record's export line as its text. Syslog cannot be read back, so it
// starts after the chain head as it is when the stream starts, and it
// cannot tell a record the server lost from one it never got: over udp,
// a successful write is not a delivery.
type SyslogSink struct {
	o SyslogOptions
	// dial connects; a test may replace it.
	dial func(SyslogOptions) (syslogWriter, error)
	w    syslogWriter
	// last is the seq of the last record sent.
	last int64
}

var _ Sink = (*SyslogSink)(nil)

// NewSyslogSink returns a sink sending to syslog as o says. It connects
// on its first write, and again after a failed one.
func NewSyslogSink(o SyslogOptions) *SyslogSink {
	return &SyslogSink{o: o, dial: dialSyslog}
}

// Name is "syslog".
func (s *SyslogSink) Name() string { return "syslog" }

// Open checks the options; the sink starts at the chain head. It does
// not connect: a syslog server down at start must not move the start
// past the records written while it was down.
func (s *SyslogSink) Open(ctx context.Context) (Position, error) {
	if s.o.Facility < 0 || s.o.Facility > 23 {
		return Position{}, fmt.Errorf("syslog facility %d is not a facility code (0 to 23)", s.o.Facility)
	}
	return Position{AtHead: true}, nil
}

// Write sends one message per line not sent yet. On a failure it drops
// the connection; the next Write connects again and goes on from the
// line that failed.
func (s *SyslogSink) Write(ctx context.Context, lines []Line) error {
	for _, l := range lines {
		if l.Seq <= s.last {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.w == nil {
			w, err := s.dial(s.o)
			if err != nil {
				return fmt.Errorf("connect to syslog: %w", err)
			}
			s.w = w
		}
		if err := s.w.Info(string(l.JSON)); err != nil {
			_ = s.w.Close() // the write's error is the one to report
			s.w = nil
			return fmt.Errorf("record %d (%s): %w", l.Seq, l.Action, err)
		}
		s.last = l.Seq
	}
	return nil
}

// Close closes the connection, if any.
func (s *SyslogSink) Close() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	return err
}
