package waf

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

// crsFiles lists the CRS rule files, in order.
func crsFiles() ([]string, error) {
	files, err := fs.Glob(coreruleset.FS, "@owasp_crs/*.conf")
	if err != nil {
		return nil, fmt.Errorf("list the core rule set: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("the embedded core rule set is empty")
	}
	slices.Sort(files)
	return files, nil
}

func isResponseFile(f string) bool {
	return strings.HasPrefix(strings.TrimPrefix(f, "@owasp_crs/"), "RESPONSE-")
}

//go:embed rules.conf
var portcullisRules string

// Everything a directive interpolates is a number or a target
// targetProblem accepted, so no configuration value can add a directive
// of its own.

// engine is how both rule sets start. The engine always interrupts;
// detection-only is the caller's choice of what to do with a verdict, so
// a detecting and a blocking API measure the same thing.
func engine(b *strings.Builder) {
	b.WriteString("SecRuleEngine On\n")
	// Coraza's zero value is On: with no target nothing is written, but
	// every transaction still builds its audit record. The gateway's
	// access log says what the WAF found.
	b.WriteString("SecAuditEngine Off\n")
	// Literal pre-filtering skips a pattern whose required literals are
	// absent: measured ~10 % of the request rules' time.
	b.WriteString("SecRxPreFilter On\n")
}

// crsSetup includes the CRS's setup and sets the paranoia level.
func crsSetup(b *strings.Builder, paranoia int) {
	b.WriteString("Include @crs-setup.conf.example\n")
	fmt.Fprintf(b, `SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"`+"\n", paranoia)
}

// requestDirectives renders the request rule set: every CRS file but the
// response ones, Portcullis's rules and then the corroboration of the
// prose-prone rules (corroborate.go) slotted before the blocking
// evaluation (949), so they add to and correct the score it checks.
func requestDirectives(c Config, paranoia, threshold int, files []string) string {
	var b strings.Builder
	engine(&b)
	b.WriteString("SecRequestBodyAccess On\n")
	limit := c.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	fmt.Fprintf(&b, "SecRequestBodyLimit %d\nSecRequestBodyInMemoryLimit %d\n", limit, limit)
	b.WriteString("SecRequestBodyLimitAction Reject\n")
	b.WriteString("SecRequestBodyJsonDepthLimit 512\n")
	b.WriteString("SecArgumentsLimit 1000\n")
	b.WriteString("SecResponseBodyAccess Off\n")
	// JSON bodies are parsed as JSON (jsonbody.go): every value is an
	// ARGS entry named by its path (json.items.0.name), not one opaque
	// string.
	b.WriteString(`SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.-]+\+)?json(?:[\s;]|$)" "id:10001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"` + "\n")
	b.WriteString(`SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\+|/)|text/)xml" "id:10002,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"` + "\n")
	crsSetup(&b, paranoia)
	fmt.Fprintf(&b, `SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4"`+"\n", threshold)
	// An API gateway routes every method it serves by operation; the
	// CRS's default (GET HEAD POST OPTIONS) would refuse REST's others.
	b.WriteString(`SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"` + "\n")
	b.WriteString(`SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| |application/soap+xml| |application/json| |application/merge-patch+json| |application/json-patch+json| |application/problem+json| |application/ld+json| |application/vnd.api+json|'"` + "\n")
	for _, f := range files {
		if isResponseFile(f) {
			continue
		}
		if strings.Contains(f, "REQUEST-949-") {
			b.WriteString(portcullisRules)
			b.WriteString("\n")
			corroboration(&b)
		}
		b.WriteString("Include " + f + "\n")
	}
	exclusions(&b, c.ExcludeRules)
	for _, x := range c.ExcludeTargets {
		fmt.Fprintf(&b, "SecRuleUpdateTargetById %d \"!%s\"\n", x.Rule, x.Target)
	}
	return b.String()
}

// responseDirectives renders the response rule set: the CRS's
// initialization (it sets the scores and levels the response rules add
// to and compare with) and its response files. The body is read
// whatever its declared type: InspectResponse hands over only bodies
// worth reading (InspectsBody), and the CRS's own list compares the
// Content-Type verbatim, which would skip application/problem+json.
func responseDirectives(c Config, paranoia int, limit int64, files []string) string {
	var b strings.Builder
	engine(&b)
	b.WriteString("SecRequestBodyAccess Off\n")
	b.WriteString("SecResponseBodyAccess On\n")
	fmt.Fprintf(&b, "SecResponseBodyLimit %d\nSecResponseBodyLimitAction ProcessPartial\n", limit)
	b.WriteString(`SecAction "id:10003,phase:3,pass,t:none,nolog,ctl:forceResponseBodyVariable=On"` + "\n")
	crsSetup(&b, paranoia)
	b.WriteString(`SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.outbound_anomaly_score_threshold=4"` + "\n")
	for _, f := range files {
		if isResponseFile(f) || strings.Contains(f, "REQUEST-901-") {
			b.WriteString("Include " + f + "\n")
		}
	}
	// Removing an id this set does not hold is a no-op; targets are
	// request variables, which no response rule reads.
	exclusions(&b, c.ExcludeRules)
	return b.String()
}

func exclusions(b *strings.Builder, ids []int) {
	for _, id := range apiExclusions {
		fmt.Fprintf(b, "SecRuleRemoveById %d\n", id)
	}
	for _, id := range ids {
		fmt.Fprintf(b, "SecRuleRemoveById %d\n", id)
	}
}

// apiExclusions are CRS rules removed for every API: they police what a
// browser-facing web site sends, and a JSON API's clients legitimately
// send otherwise. None of them is an injection detector.
var apiExclusions = []int{}

// targetChars are the only bytes a target may hold: the catalog checks
// a target's shape (COLLECTION:key) for people; this is the guard at the
// point the target is written into a directive, where a quote, a space,
// a comma or a pipe would change what the directive says.
var targetChars = regexp.MustCompile(`^[A-Z_]+(?::[A-Za-z0-9_.$\[\]-]{1,200})?$`)

// targetProblem says what is wrong with an exclusion target, or "" when
// nothing is.
func targetProblem(t string) string {
	if !targetChars.MatchString(t) {
		return "is not COLLECTION or COLLECTION:key with a key of letters, digits and . _ - $ [ ]"
	}
	return ""
}
