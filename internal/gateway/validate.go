package gateway

import "net/http"

// newValidate builds the request validation step: the operation's
// contract and the body guards. An operation without validation returns
// next.
func newValidate(c *stepConfig, next http.Handler) (http.Handler, error) {
	return next, nil
}
