package phantom

import "net/http"

// DefaultClient returns the client NewIntrospector builds when cfg names
// none, so a test can keep the production transport (timeouts, no
// redirects) and still close its idle connections when it ends.
func DefaultClient(cfg IntrospectorConfig) *http.Client {
	return newClient(cfg.withDefaults().Timeout)
}
