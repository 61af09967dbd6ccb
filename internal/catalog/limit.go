package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/printable"
)

// RateLimits are the rate-limit parts of the model that are not declared
// on one API: the plans (tiers) clients are assigned to, and the abuse
// rules. Where counters live (memory, Redis) is the server's business,
// not the model's.
type RateLimits struct {
	// Plans are tiers declared once: a plan name to its limits. A plan's
	// limits apply to every API, counted per client (their key defaults
	// to [client_id] and must contain it). An empty plan is allowed: no
	// limits for its clients.
	Plans map[string][]Limit `yaml:"plans"`
	// ClientPlans assigns clients (by client_id) to plans.
	ClientPlans map[string]string `yaml:"client_plans"`
	// DefaultPlan is the plan of clients not in ClientPlans. Empty means
	// none: unlisted clients have no plan limits.
	DefaultPlan string `yaml:"default_plan"`
	// TimeZone is the zone calendar quota windows (day, month) start in,
	// an IANA name. Empty means the gateway's time zone.
	TimeZone string `yaml:"time_zone"`
	// Abuse rules block a client or user rejected too often.
	Abuse []AbuseRule `yaml:"abuse"`
}

// Limit is one rate or quota, in a plan, on an API or on an operation.
// Exactly one of Quota and Rate is set.
type Limit struct {
	// Name identifies the limit in the RateLimit headers, metrics and
	// counters: 1 to 64 of a-z, 0-9, _ and -, starting with a letter or
	// digit, unique across the catalog. Required.
	Name string `yaml:"name"`
	// Quota is "N/minute", "N/hour", "N/day" or "N/month": N requests per
	// calendar window (starting on the minute, hour, midnight or the 1st
	// in the quota time zone), or per rolling window with Rolling.
	Quota string `yaml:"quota"`
	// Rate is "N/s", "N/m" or "N/h": N requests per second, minute or hour
	// on average, smoothly (GCRA: no window edges).
	Rate string `yaml:"rate"`
	// Burst is how many requests a Rate admits at once. Zero means N.
	// Only with Rate.
	Burst int64 `yaml:"burst"`
	// Rolling makes a Quota continuous: N per any window of its length
	// rather than per calendar window. Not with month. False means
	// calendar windows.
	Rolling bool `yaml:"rolling"`
	// Key lists what the limit counts by, joined: client_id, sub, api,
	// operation, ip (the address), ip/N or ip/N/M (an IPv4 prefix of N
	// bits and an IPv6 one of M; see KeyPart), claim:NAME, header:NAME.
	// Required on API and operation limits; plan limits default to
	// [client_id] and must contain it.
	Key []string `yaml:"key"`
	// Condition is a CEL request rule (as in API.Policy): the limit
	// applies only to requests it holds for. Empty means every request.
	Condition string `yaml:"condition"`
	// Strict makes on_backend_error default to deny. False: local.
	Strict bool `yaml:"strict"`
	// OnBackendError is what the limit does while its backend cannot be
	// reached: "deny" refuses the request (503), "allow" skips the limit,
	// "local" counts it in this node's memory. Empty means deny when
	// Strict, local otherwise.
	OnBackendError string `yaml:"on_backend_error"`
}

// AbuseRule blocks a key (a client or a user) whose requests are
// rejected by limits more than Rejections times within Window.
type AbuseRule struct {
	// Name identifies the rule in logs, metrics and blocks; the syntax of
	// limit names, unique among rules. Required.
	Name string `yaml:"name"`
	// Key is what is counted and blocked: "client_id" or "sub". Required.
	Key string `yaml:"key"`
	// Rejections is how many rejections within Window are tolerated; one
	// more blocks. At least 1.
	Rejections int64 `yaml:"rejections"`
	// Window is the rolling window rejections are counted over (1s to
	// 24h). Required.
	Window Duration `yaml:"window"`
	// Block is how long the key stays blocked (1s to 720h). Required.
	Block Duration `yaml:"block"`
	// RevokeTokens also revokes the key's tokens at the authorization
	// server, so it must authenticate again. False means only the block.
	RevokeTokens bool `yaml:"revoke_tokens"`
}

// Backend-failure policies of a limit (Limit.OnBackendError).
const (
	OnErrorDeny  = "deny"
	OnErrorAllow = "allow"
	OnErrorLocal = "local"
)

// MaxLimitCount bounds N in a rate or quota: past it a limit is no limit
// (and a rate's emission interval would round to nothing).
const MaxLimitCount = 1_000_000_000

// AbuseLimitPrefix starts the name of the hidden limit that counts an
// abuse rule's rejections ("abuse-" + rule name); limit names may not use
// it.
const AbuseLimitPrefix = "abuse-"

// ApplyDefaults fills the zero fields of the plans' limits: their
// on_backend_error and, since a plan counts per client, their key.
// TimeZone stays empty (see Snapshot.QuotaLocation).
func (r *RateLimits) ApplyDefaults() {
	for _, limits := range r.Plans {
		for i := range limits {
			limits[i].ApplyDefaults()
			if len(limits[i].Key) == 0 {
				limits[i].Key = []string{string(KeyClientID)}
			}
		}
	}
}

// ApplyDefaults fills OnBackendError: deny when Strict, local otherwise.
func (l *Limit) ApplyDefaults() {
	if l.OnBackendError == "" {
		l.OnBackendError = OnErrorLocal
		if l.Strict {
			l.OnBackendError = OnErrorDeny
		}
	}
}

// applyLimitDefaults fills the defaults of a list of limits.
func applyLimitDefaults(limits []Limit) {
	for i := range limits {
		limits[i].ApplyDefaults()
	}
}

// PlanFor returns the name of clientID's plan: its entry in ClientPlans,
// else DefaultPlan (empty: no plan).
func (r *RateLimits) PlanFor(clientID string) string {
	if p, ok := r.ClientPlans[clientID]; ok {
		return p
	}
	return r.DefaultPlan
}

func (r RateLimits) clone() RateLimits {
	if r.Plans != nil {
		plans := make(map[string][]Limit, len(r.Plans))
		for name, limits := range r.Plans {
			plans[name] = cloneLimits(limits)
		}
		r.Plans = plans
	}
	r.ClientPlans = maps.Clone(r.ClientPlans)
	r.Abuse = slices.Clone(r.Abuse)
	return r
}

func cloneLimits(limits []Limit) []Limit {
	limits = slices.Clone(limits)
	for i := range limits {
		limits[i].Key = slices.Clone(limits[i].Key)
	}
	return limits
}

// QuotaWindow is the window of a quota ("2000/day" → day).
type QuotaWindow string

// Quota windows.
const (
	WindowMinute QuotaWindow = "minute"
	WindowHour   QuotaWindow = "hour"
	WindowDay    QuotaWindow = "day"
	WindowMonth  QuotaWindow = "month"
)

// Period is the window's length: a minute, an hour, 24 hours, or 30 days
// for a month (whose calendar length varies; it is what the RateLimit-Policy
// header announces).
func (w QuotaWindow) Period() time.Duration {
	switch w {
	case WindowMinute:
		return time.Minute
	case WindowHour:
		return time.Hour
	case WindowDay:
		return 24 * time.Hour
	case WindowMonth:
		return 30 * 24 * time.Hour
	}
	return 0
}

// ParseQuota reads a quota such as "2000/day": a count from 1 to
// MaxLimitCount, a slash, and minute, hour, day or month.
func ParseQuota(s string) (int64, QuotaWindow, error) {
	n, unit, err := splitCount(s, "N/minute, N/hour, N/day or N/month (such as 2000/day)")
	if err != nil {
		return 0, "", err
	}
	switch w := QuotaWindow(unit); w {
	case WindowMinute, WindowHour, WindowDay, WindowMonth:
		return n, w, nil
	}
	return 0, "", fmt.Errorf("quota %q: the window is minute, hour, day or month", s)
}

// ParseRate reads a rate such as "100/s": a count from 1 to
// MaxLimitCount, a slash, and s, m or h.
func ParseRate(s string) (int64, time.Duration, error) {
	n, unit, err := splitCount(s, "N/s, N/m or N/h (such as 100/s)")
	if err != nil {
		return 0, 0, err
	}
	switch unit {
	case "s":
		return n, time.Second, nil
	case "m":
		return n, time.Minute, nil
	case "h":
		return n, time.Hour, nil
	}
	return 0, 0, fmt.Errorf("rate %q: the unit is s, m or h (per second, minute or hour)", s)
}

// splitCount splits "N/unit", checking N.
func splitCount(s, shape string) (int64, string, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, "", fmt.Errorf("%q is not %s", s, shape)
	}
	num, unit = strings.TrimSpace(num), strings.TrimSpace(unit)
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil || num == "" || num[0] == '+':
		return 0, "", fmt.Errorf("%q is not %s", s, shape)
	case n < 1:
		return 0, "", fmt.Errorf("%q: the count must be at least 1", s)
	case n > MaxLimitCount:
		return 0, "", fmt.Errorf("%q: the count must be at most %d", s, MaxLimitCount)
	}
	return n, unit, nil
}

// KeyKind is what one part of a limit's key comes from.
type KeyKind string

// Key parts (Limit.Key).
const (
	// KeyClientID is the token's client_id claim.
	KeyClientID KeyKind = "client_id"
	// KeySub is the token's sub claim.
	KeySub KeyKind = "sub"
	// KeyAPI is the API's name.
	KeyAPI KeyKind = "api"
	// KeyOperation is the operation ("POST /orders").
	KeyOperation KeyKind = "operation"
	// KeyIP is the client address, masked to a prefix (ip, ip/24, ip/24/64).
	KeyIP KeyKind = "ip"
	// KeyClaim is a claim of the token (claim:office).
	KeyClaim KeyKind = "claim"
	// KeyHeader is a request header (header:X-Tenant).
	KeyHeader KeyKind = "header"
)

// KeyPart is one parsed part of a limit's key.
type KeyPart struct {
	Kind KeyKind
	// Name is the claim or header name of KeyClaim and KeyHeader.
	Name string
	// IPv4Bits and IPv6Bits are the prefix lengths of KeyIP: "ip" is the
	// whole address (32, 128); "ip/N" with N up to 32 groups IPv4
	// addresses by N bits and IPv6 ones by 64 (a site's usual
	// allocation), with N over 32 IPv6 ones by N and IPv4 ones not at
	// all (32); "ip/N/M" says both.
	IPv4Bits, IPv6Bits int
}

// errKeyPart is the shape of a key part, for its errors.
var errKeyPart = errors.New("a key part is client_id, sub, api, operation, ip, ip/N, ip/N/M, claim:NAME or header:NAME")

// ParseKeyPart reads one part of a limit's key.
func ParseKeyPart(s string) (KeyPart, error) {
	switch k := KeyKind(s); k {
	case KeyClientID, KeySub, KeyAPI, KeyOperation:
		return KeyPart{Kind: k}, nil
	case KeyIP:
		return KeyPart{Kind: KeyIP, IPv4Bits: 32, IPv6Bits: 128}, nil
	}
	if rest, ok := strings.CutPrefix(s, "ip/"); ok {
		return parseIPKey(s, rest)
	}
	if name, ok := strings.CutPrefix(s, "claim:"); ok {
		if name == "" || len(name) > 128 || strings.IndexFunc(name, printable.IsSpaceOrControl) >= 0 {
			return KeyPart{}, fmt.Errorf("%q: a claim name is 1 to 128 characters without spaces or control characters", s)
		}
		return KeyPart{Kind: KeyClaim, Name: name}, nil
	}
	if name, ok := strings.CutPrefix(s, "header:"); ok {
		if !isHTTPToken(name) {
			return KeyPart{}, fmt.Errorf("%q: %q is not a header name (RFC 9110 §5.1)", s, name)
		}
		return KeyPart{Kind: KeyHeader, Name: name}, nil
	}
	return KeyPart{}, fmt.Errorf("%q: %w", s, errKeyPart)
}

// parseIPKey reads the N or N/M of ip/N, ip/N/M.
func parseIPKey(s, rest string) (KeyPart, error) {
	bits := func(t string, max int) (int, bool) {
		n, err := strconv.Atoi(t)
		return n, err == nil && n >= 1 && n <= max && strconv.Itoa(n) == t
	}
	if v4, v6, ok := strings.Cut(rest, "/"); ok {
		n4, ok4 := bits(v4, 32)
		n6, ok6 := bits(v6, 128)
		if !ok4 || !ok6 {
			return KeyPart{}, fmt.Errorf("%q: ip/N/M takes an IPv4 prefix length N from 1 to 32 and an IPv6 one M from 1 to 128", s)
		}
		return KeyPart{Kind: KeyIP, IPv4Bits: n4, IPv6Bits: n6}, nil
	}
	n, ok := bits(rest, 128)
	if !ok {
		return KeyPart{}, fmt.Errorf("%q: ip/N takes a prefix length from 1 to 128", s)
	}
	if n <= 32 {
		return KeyPart{Kind: KeyIP, IPv4Bits: n, IPv6Bits: 64}, nil
	}
	return KeyPart{Kind: KeyIP, IPv4Bits: 32, IPv6Bits: n}, nil
}
