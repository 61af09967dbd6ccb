//go:build !windows && !plan9

package audit

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readDatagrams reads n messages from conn. The deadline only keeps a
// broken test from hanging; nothing is asserted about time.
func readDatagrams(t *testing.T, conn net.PacketConn, n int) []string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	buf := make([]byte, 64<<10)
	for range n {
		k, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read message %d of %d: %v", len(msgs)+1, n, err)
		}
		msgs = append(msgs, string(buf[:k]))
	}
	return msgs
}

// TestSyslogSink streams to a UDP syslog listener of the test's own on
// loopback: one message per record after the head at start, severity info
// in the configured facility, the export line as the text.
func TestSyslogSink(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		ctx := context.Background()
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		a := New(tdb.db, (&clock{t: epoch}).now)
		appendN(t, a, 2) // before the stream starts: not sent

		sink := NewSyslogSink(SyslogOptions{Network: "udp", Address: conn.LocalAddr().String(), Tag: "portcullis-audit", Facility: 20})
		log := newStreamLog()
		f := NewFollower(tdb.db, []Sink{sink}, log.options())
		defer f.Close()
		f.Poll(ctx)
		appendN(t, a, 3)
		f.Poll(ctx)

		msgs := readDatagrams(t, conn, 3)
		export := strings.SplitAfter(exportText(t, a), "\n")
		for i, msg := range msgs {
			// local4 (20) × 8 + info (6).
			if !strings.HasPrefix(msg, "<166>") || !strings.Contains(msg, " portcullis-audit[") {
				t.Errorf("message %d %q: want priority <166> and the tag", i+1, msg)
			}
			_, text, _ := strings.Cut(msg, "]: ")
			if diff := cmp.Diff(export[2+i], text); diff != "" {
				t.Errorf("message %d is not record %d's export line (-export +message):\n%s", i+1, 3+i, diff)
			}
		}
		if log.last["syslog"] != 5 || len(log.errors) != 0 {
			t.Errorf("last %d, errors %v; want 5 and none", log.last["syslog"], log.errors)
		}
	})
}

// A syslog server that cannot be reached at first gets every record once
// it can.
func TestSyslogSinkRetries(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		ctx := context.Background()
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		a := New(tdb.db, (&clock{t: epoch}).now)
		sink := NewSyslogSink(SyslogOptions{Network: "udp", Address: conn.LocalAddr().String(), Tag: "t", Facility: 4})
		down := true
		dial := sink.dial
		sink.dial = func(o SyslogOptions) (syslogWriter, error) {
			if down {
				return nil, errors.New("connection refused")
			}
			return dial(o)
		}
		log := newStreamLog()
		f := NewFollower(tdb.db, []Sink{sink}, log.options())
		defer f.Close()
		f.Poll(ctx)
		appendN(t, a, 2)
		f.Poll(ctx)
		if len(log.errors["syslog"]) != 1 {
			t.Fatalf("errors %v, want one", log.errors)
		}
		down = false
		f.Poll(ctx)
		msgs := readDatagrams(t, conn, 2)
		for i, msg := range msgs {
			if want := `"seq":` + string(rune('1'+i)) + `,`; !strings.Contains(msg, want) {
				t.Errorf("message %d %q lacks %s", i+1, msg, want)
			}
		}
		if log.last["syslog"] != 2 {
			t.Errorf("last %d, want 2", log.last["syslog"])
		}
	})
}

func TestSyslogSinkRefusesABadFacility(t *testing.T) {
	if _, err := NewSyslogSink(SyslogOptions{Facility: 24}).Open(context.Background()); err == nil {
		t.Error("Open with facility 24 succeeded")
	}
}
