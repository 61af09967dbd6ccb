//go:build windows || plan9

package audit

// dialSyslog fails: Go's log/syslog does not exist here.
func dialSyslog(SyslogOptions) (syslogWriter, error) { return nil, errNoSyslog }
