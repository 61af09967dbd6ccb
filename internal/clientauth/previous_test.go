package clientauth_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

func TestPreviousKeyDuringRotation(t *testing.T) {
	previousKey := bytes.Repeat([]byte{7}, 32)
	const id, secret = "rotating", "the-secret"
	old := store.Client{ID: id, AuthMethod: store.AuthSecretPost,
		SecretDigest: clientauth.DigestSecret(previousKey, secret), SecretKeyID: "prev"}
	current := store.Client{ID: "current", AuthMethod: store.AuthSecretPost,
		SecretDigest: clientauth.DigestSecret(secretKey, secret), SecretKeyID: "cur"}
	auth := func(a *clientauth.Authenticator, clientID, secret string) (store.Client, error) {
		return a.Authenticate(context.Background(), newRequest(t, nil, form("client_id", clientID, "client_secret", secret), ""))
	}

	// Without the previous key, a digest made under it does not match:
	// that is the rotation's reason to exist.
	if _, err := auth(newAuthenticator(newMemStore(old)), id, secret); err == nil {
		t.Fatal("a digest under the previous key matched without AcceptPreviousKey")
	}

	type call struct {
		id     string
		old    []byte
		digest []byte
	}
	var calls []call
	a := newAuthenticator(newMemStore(old, current))
	a.AcceptPreviousKey(clientauth.PreviousKey{SecretKey: previousKey, Redigest: func(_ context.Context, c store.Client, d []byte) {
		calls = append(calls, call{c.ID, c.SecretDigest, d})
	}})

	got, err := auth(a, id, secret)
	if err != nil || got.ID != id {
		t.Fatalf("previous-key digest: got %q, %v; want the client", got.ID, err)
	}
	if len(calls) != 1 || calls[0].id != id || !bytes.Equal(calls[0].old, old.SecretDigest) ||
		!bytes.Equal(calls[0].digest, clientauth.DigestSecret(secretKey, secret)) {
		t.Fatalf("Redigest calls = %+v, want one with the current key's digest", calls)
	}
	calls = nil
	if _, err := auth(a, "current", secret); err != nil || len(calls) != 0 {
		t.Errorf("current-key digest: err %v, %d Redigest calls; want success and none", err, len(calls))
	}
	for _, tc := range []struct{ id, secret string }{{id, "wrong"}, {"current", "wrong"}, {"nobody", secret}} {
		_, err := auth(a, tc.id, tc.secret)
		var ae *clientauth.Error
		if !errors.As(err, &ae) || ae.Code != clientauth.CodeInvalidClient {
			t.Errorf("client %q with secret %q: error %v, want invalid_client", tc.id, tc.secret, err)
		}
	}
	if len(calls) != 0 {
		t.Errorf("failed authentications called Redigest %d times", len(calls))
	}
}
