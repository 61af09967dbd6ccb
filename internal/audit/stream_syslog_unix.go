//go:build !windows && !plan9

package audit

import "log/syslog"

// dialSyslog connects with log/syslog, which reconnects once by itself
// when a write fails.
func dialSyslog(o SyslogOptions) (syslogWriter, error) {
	return syslog.Dial(o.Network, o.Address, syslog.Priority(o.Facility<<3)|syslog.LOG_INFO, o.Tag)
}
