package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/adminclient"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/server"
)

// AuditCmd groups the audit trail commands.
type AuditCmd struct {
	Verify AuditVerifyCmd `cmd:"" help:"Check the audit trail's hash chain; exit non-zero naming the first broken record."`
	Export AuditExportCmd `cmd:"" help:"Write audit records to stdout as JSON lines, oldest first."`
}

// AuditVerifyCmd verifies the chain.
type AuditVerifyCmd struct {
	Source `embed:""`
	Remote `embed:""`
	JSON   bool `name:"json" help:"Print the report as JSON."`
}

// AuditVerifyView is the --json output of audit verify: the admin API's
// report, so the local and the remote command print the same.
type AuditVerifyView = admin.AuditVerifyReport

// Run walks the chain, in the store or, with --server, on the node. A
// sound chain prints its size and head (worth keeping elsewhere: it
// proves later that the chain was not rewritten from an earlier point);
// a broken one is an error naming the first broken record, so the exit
// status is non-zero.
func (c *AuditVerifyCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		v, err := ac.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		return c.report(rt, v)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		rep, err := in.Auditor().Verify(ctx)
		if err != nil {
			return err
		}
		return c.report(rt, admin.NewAuditVerifyReport(rep))
	})
}

func (c *AuditVerifyCmd) report(rt *Runtime, v AuditVerifyView) error {
	rep := v.Report()
	if c.JSON {
		if err := writeJSON(rt.Stdout, v); err != nil {
			return err
		}
	} else if rep.OK() {
		if _, err := fmt.Fprintln(rt.Stdout, rep); err != nil {
			return err
		}
	}
	if !rep.OK() {
		return errors.New(rep.String())
	}
	return nil
}

// AuditExportCmd exports records.
type AuditExportCmd struct {
	Source `embed:""`
	Remote `embed:""`
	Actor  string `help:"Only records by this actor (user subject or client id)." placeholder:"NAME"`
	Action string `help:"Only this action (client.create), or every action under a prefix ending in .* (client.*)." placeholder:"ACTION"`
	Target string `help:"Only records about this target: TYPE or TYPE:ID (client:reports, user:alice)." placeholder:"TARGET"`
	Since  string `help:"Only records at or after this time: RFC 3339, a date (UTC), or a duration ago (24h)." placeholder:"TIME"`
	Until  string `help:"Only records before this time, in the same forms as --since." placeholder:"TIME"`
}

// Run writes the selected records, each line the record's canonical JSON
// with its prev_hash and hash.
func (c *AuditExportCmd) Run(ctx context.Context, rt *Runtime) error {
	f := audit.Filter{Actor: c.Actor, Action: c.Action}
	f.TargetType, f.TargetID, _ = strings.Cut(c.Target, ":")
	var err error
	if f.Since, err = parseWhen("--since", c.Since, rt.now()); err != nil {
		return err
	}
	if f.Until, err = parseWhen("--until", c.Until, rt.now()); err != nil {
		return err
	}
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		q := adminclient.AuditQuery{Actor: c.Actor, Action: c.Action, Target: c.Target, Since: f.Since, Until: f.Until}
		return ac.AuditPages(ctx, q, func(p admin.AuditPage) error {
			for _, r := range p.Items {
				if err := writeRecord(rt.Stdout, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		return in.Auditor().Export(ctx, rt.Stdout, f)
	})
}

// writeRecord writes r as an export line, as Auditor.Export does: its
// canonical JSON with prev_hash and hash (docs/audit.md), so a remote
// export checks exactly as a local one.
func writeRecord(w io.Writer, r audit.Record) error {
	r.Time = r.Time.UTC()
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	line, err := audit.Canonicalize(raw)
	if err != nil {
		return fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	_, err = w.Write(append(line, '\n'))
	return err
}

// parseWhen reads a time as RFC 3339, a date (midnight UTC) or a duration
// before now; "" is the zero time (unbounded).
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2031-03-04T05:06:07Z), a date (2031-03-04) or a duration ago (24h)", flag, s)
}
