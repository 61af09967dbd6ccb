package tokenhandler

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/catalog"
)

// CORS for the SPA's origins only (Fetch standard, "CORS protocol"): the
// exact origin echoed with credentials allowed, never "*" (browsers
// refuse it with credentials, and echoing any origin would hand the
// session to every site). Other origins get no CORS header at all, so
// their pages cannot read an answer.

// corsMaxAge lets a browser keep a preflight for ten minutes.
const corsMaxAge = "600"

// allowHeaders are the request headers an SPA sends: JSON bodies and the
// double-submit value.
const allowHeaders = "Content-Type, " + CSRFHeader

func (h *Handler) originAllowed(origin string) bool {
	return origin != "" && slices.Contains(h.cfg.AllowedOrigins, origin)
}

func corsHeaders(hd http.Header, origin string) {
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Credentials", "true")
}

// preflight answers a CORS preflight for rt: 204 with what rt accepts
// when the origin is allowed, a 403 problem (and no CORS header, so the
// browser stops) otherwise.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, rt route, allowed bool) error {
	if !allowed {
		return fail(problemOrigin, errors.New("preflight from an origin not allowed"))
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", rt.method)
	hd.Set("Access-Control-Allow-Headers", allowHeaders)
	hd.Set("Access-Control-Max-Age", corsMaxAge)
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkOrigin refuses a call from a page that is not the SPA. Browsers
// send Origin with every POST and every cross-origin request (Fetch
// standard, "append a request Origin header"), so a state-changing call
// without it did not come from the SPA's script. A GET without Origin is
// same-origin or a navigation; its answer is readable only by the page
// that made it, so it may proceed.
func checkOrigin(method, origin string, allowed bool) error {
	switch {
	case allowed:
		return nil
	case origin == "" && (method == http.MethodGet || method == http.MethodHead):
		return nil
	case origin == "":
		return fail(problemOrigin, errors.New("no Origin header on a state-changing call"))
	default:
		return fail(problemOrigin, errors.New("origin not allowed"))
	}
}

// APICORSProblems says what the CORS policy of an API the app fronts
// (cors, defaults applied; nil when the API has none) lacks for the
// SPA's calls with cookies, or nothing. The gateway answers those calls'
// CORS from the API's own policy, and a browser drops a credentialed
// answer unless it names the exact origin and allows credentials
// (Fetch standard, "CORS check"), and refuses to send x-pc-csrf unless
// the preflight allows it. The policy is not widened behind the
// operator's back: the check refuses, and the message says what to add.
func (s *SPA) APICORSProblems(cors *catalog.CORS) []string {
	if cors == nil {
		return []string{"has no cors section: the SPA's calls need one that lists its origins " +
			"(" + strings.Join(s.AllowedOrigins, ", ") + "), allow_credentials: true and the " + CSRFHeader + " request header"}
	}
	var out []string
	for _, o := range s.AllowedOrigins {
		if !slices.Contains(cors.AllowedOrigins, o) {
			out = append(out, "cors.allowed_origins must list the SPA's origin "+o+" exactly (a credentialed answer names it)")
		}
	}
	if !cors.AllowCredentials {
		out = append(out, "cors.allow_credentials must be true: the SPA's calls carry its cookies")
	}
	if !slices.ContainsFunc(cors.AllowedHeaders, func(h string) bool { return strings.EqualFold(h, CSRFHeader) }) {
		out = append(out, "cors.allowed_headers must include "+CSRFHeader+", the double-submit header of every call with cookies")
	}
	return out
}
