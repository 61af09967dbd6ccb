package identitytest

import (
	"html"
	"net/url"
	"regexp"
)

var (
	inputRe  = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	formRe   = regexp.MustCompile(`(?is)<form\b[^>]*\baction="([^"]*)"`)
	nameRe   = regexp.MustCompile(`(?is)\bname="([^"]*)"`)
	valueRe  = regexp.MustCompile(`(?is)\bvalue="([^"]*)"`)
	hiddenRe = regexp.MustCompile(`(?is)\btype="hidden"`)
)

// Form reads the first HTML form of page as a browser would submit it
// before the user types anything: its action, as written, and its hidden
// fields (the sealed request, the CSRF token). ok is false when the page
// has no form. Tests that drive the login, consent and logout pages over
// plain HTTP use it; the pages are server-rendered, so a form is plain
// markup.
func Form(page string) (action string, hidden url.Values, ok bool) {
	m := formRe.FindStringSubmatch(page)
	if m == nil {
		return "", nil, false
	}
	hidden = url.Values{}
	for _, in := range inputRe.FindAllString(page, -1) {
		if !hiddenRe.MatchString(in) {
			continue
		}
		n, v := nameRe.FindStringSubmatch(in), valueRe.FindStringSubmatch(in)
		if n != nil && v != nil {
			hidden.Set(html.UnescapeString(n[1]), html.UnescapeString(v[1]))
		}
	}
	return html.UnescapeString(m[1]), hidden, true
}
