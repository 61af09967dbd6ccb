package gateway

import (
	"net/http"
	"strconv"
	"time"
)

// lifecycle is what an API version announces about its end on every
// response the gateway sends for it: those proxied from its upstream and
// those the gateway makes itself (401, 403, 404 of an operation, 413,
// 429, 503, CORS preflights), so a client learns of the deprecation
// whichever answer it gets. The values are rendered once per route
// table; a version that announces nothing costs a request two nil
// checks.
type lifecycle struct {
	// deprecation is the Deprecation header's value (RFC 9745), sunset
	// the Sunset header's (RFC 8594); nil when the version announces
	// none. Never modified once built: responses share them.
	deprecation, sunset []string
}

// newLifecycle renders the announcements of a version deprecated at
// deprecated and going away at sunset; zero times announce nothing.
func newLifecycle(deprecated, sunset time.Time) lifecycle {
	var l lifecycle
	if !deprecated.IsZero() {
		// RFC 9745 §2.1: a Structured Field Date, "@" and Unix seconds.
		l.deprecation = []string{"@" + strconv.FormatInt(deprecated.Unix(), 10)}
	}
	if !sunset.IsZero() {
		// RFC 8594 §3: an HTTP-date.
		l.sunset = []string{sunset.UTC().Format(http.TimeFormat)}
	}
	return l
}

// announces reports whether l sets any header.
func (l *lifecycle) announces() bool { return l.deprecation != nil || l.sunset != nil }

// set puts the announcements in h, replacing any an upstream made: the
// catalog's lifecycle is the one clients are told.
func (l *lifecycle) set(h http.Header) {
	if l.deprecation != nil {
		h["Deprecation"] = l.deprecation
	}
	if l.sunset != nil {
		h["Sunset"] = l.sunset
	}
}
