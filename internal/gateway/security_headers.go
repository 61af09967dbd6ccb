package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// securityHeaders are an API's security_headers as the response path
// sets them: values built once per route table, so a response only
// assigns slices.
type securityHeaders struct {
	hsts    []string // nil: none
	nosniff bool
	// noStore adds Cache-Control: no-store to an answer to a request
	// that carried a token, when the upstream set no Cache-Control.
	noStore bool
}

var headerNoStoreValue = []string{"no-store"}

func newSecurityHeaders(c catalog.SecurityHeaders) securityHeaders {
	s := securityHeaders{nosniff: !c.AllowSniffing, noStore: !c.CacheTokenResponses}
	if c.HSTS > 0 {
		v := "max-age=" + strconv.FormatInt(int64(time.Duration(c.HSTS)/time.Second), 10)
		if c.HSTSSubdomains {
			v += "; includeSubDomains"
		}
		s.hsts = []string{v}
	}
	return s
}

// set adds the headers to an upstream's answer to out, the request the
// gateway sent (it carries the verified JWT when the caller presented a
// token).
func (s securityHeaders) set(h http.Header, out *http.Request) {
	if s.hsts != nil {
		h["Strict-Transport-Security"] = s.hsts
	}
	if s.nosniff {
		h["X-Content-Type-Options"] = headerNoSniff
	}
	if s.noStore && out != nil && len(out.Header["Authorization"]) > 0 && len(h["Cache-Control"]) == 0 {
		h["Cache-Control"] = headerNoStoreValue
	}
}
