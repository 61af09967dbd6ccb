package httpsig_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	pubsig "github.com/portcullis/portcullis/pkg/httpsig"
)

func TestVerifyResponse(t *testing.T) {
	srv := signingServer()
	defer srv.Close()
	ctx := context.Background()
	keys, err := pubsig.FetchKeys(ctx, srv.Client(), srv.URL+"/.well-known/portcullis/response-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T) (*http.Response, *http.Request) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/orders/7?x=1", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp, req
	}

	t.Run("valid, body still readable", func(t *testing.T) {
		resp, req := get(t)
		if err := pubsig.VerifyResponse(resp, req, keys); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != `{"order":7}` {
			t.Errorf("body after verification: %q", b)
		}
	})
	tests := []struct {
		name   string
		tamper func(resp *http.Response, req *http.Request) *http.Request
		v      pubsig.Verifier
		want   error
	}{
		{"tampered body", func(resp *http.Response, req *http.Request) *http.Request {
			resp.Body = io.NopCloser(bytes.NewReader([]byte(`{"order":8}`)))
			return req
		}, pubsig.Verifier{}, pubsig.ErrDigest},
		{"tampered status", func(resp *http.Response, req *http.Request) *http.Request {
			resp.StatusCode = 201
			return req
		}, pubsig.Verifier{}, pubsig.ErrSignature},
		{"tampered content type", func(resp *http.Response, req *http.Request) *http.Request {
			resp.Header.Set("Content-Type", "text/html")
			return req
		}, pubsig.Verifier{}, pubsig.ErrSignature},
		{"answer to another request", func(resp *http.Response, req *http.Request) *http.Request {
			other, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders/8?x=1", nil)
			return other
		}, pubsig.Verifier{}, pubsig.ErrSignature},
		{"unsigned", func(resp *http.Response, req *http.Request) *http.Request {
			resp.Header.Del("Signature")
			resp.Header.Del("Signature-Input")
			return req
		}, pubsig.Verifier{}, pubsig.ErrNotSigned},
		{"other label", func(resp *http.Response, req *http.Request) *http.Request { return req },
			pubsig.Verifier{Label: "other"}, pubsig.ErrNotSigned},
		{"requires more", func(resp *http.Response, req *http.Request) *http.Request { return req },
			pubsig.Verifier{Require: []string{"@authority;req"}}, pubsig.ErrPolicy},
		{"too old", func(resp *http.Response, req *http.Request) *http.Request { return req },
			pubsig.Verifier{MaxAge: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }}, pubsig.ErrPolicy},
		{"body too large", func(resp *http.Response, req *http.Request) *http.Request { return req },
			pubsig.Verifier{MaxBodyBytes: 3}, pubsig.ErrPolicy},
		{"decompressed", func(resp *http.Response, req *http.Request) *http.Request {
			resp.Uncompressed = true
			return req
		}, pubsig.Verifier{}, pubsig.ErrPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, req := get(t)
			req = tt.tamper(resp, req)
			v := tt.v
			v.Keys = keys
			if err := v.VerifyResponse(resp, req); !errors.Is(err, tt.want) {
				t.Errorf("VerifyResponse: %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("unknown key", func(t *testing.T) {
		resp, req := get(t)
		none, _ := pubsig.ParseKeys([]byte(`{"keys":[]}`))
		if err := pubsig.VerifyResponse(resp, req, none); !errors.Is(err, pubsig.ErrPolicy) {
			t.Errorf("VerifyResponse: %v", err)
		}
	})
}
