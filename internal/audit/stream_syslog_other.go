//go:build windows || plan9

package audit

import "errors"

// dialSyslog fails: Go's log/syslog does not exist here.
func dialSyslog(SyslogOptions) (syslogWriter, error) { return nil, errNoSyslog }

// errNoSyslog is dialSyslog's error where Go has no log/syslog.
var errNoSyslog = errors.New("syslog is not supported on this platform")
