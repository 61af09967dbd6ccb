package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// These benchmarks go through the real listener, handlers and SQLite
// store on loopback. The load harness (bench/authz.sh) measures the same
// paths with wrk and many connections.

func benchPost(b *testing.B, e *env, path, id, secret string, form url.Values) {
	body := form.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, secret)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

func BenchmarkClientCredentialsOpaque(b *testing.B) {
	e, secrets := warehouse(b)
	benchPost(b, e, "/oauth2/token", "service-opaque", secrets["service-opaque"], url.Values{"grant_type": {"client_credentials"}})
}

func BenchmarkClientCredentialsJWT(b *testing.B) {
	e, secrets := warehouse(b)
	benchPost(b, e, "/oauth2/token", "service-jwt", secrets["service-jwt"], url.Values{"grant_type": {"client_credentials"}})
}

func BenchmarkIntrospect(b *testing.B) {
	e, secrets := warehouse(b)
	_, _, m := e.postForm("/oauth2/token", "service-opaque", secrets["service-opaque"], url.Values{"grant_type": {"client_credentials"}}, nil)
	at, _ := m["access_token"].(string)
	benchPost(b, e, "/oauth2/introspect", "gateway", secrets["gateway"], url.Values{"token": {at}})
}
