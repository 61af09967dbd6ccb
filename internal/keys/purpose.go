package keys

// Purposes of the keys derived from the master key with DeriveKey. Each
// use gets its own subkey, so a weakness in one cannot be turned against
// another; every package that derives one names it from here, so the
// server, the management commands and the tests cannot drift apart.
const (
	// PurposeClientSecrets keys the HMAC digests of client secrets.
	PurposeClientSecrets = "client-secrets"
	// PurposeCSRF keys the login and consent pages' CSRF tokens.
	PurposeCSRF = "csrf"
	// PurposeAuthorizeRequest seals authorization requests carried
	// through the login pages.
	PurposeAuthorizeRequest = "authorize-request"
	// PurposeConsoleSession seals the admin console's session cookies
	// (the tokens of a signed-in operator).
	PurposeConsoleSession = "console-session"
	// PurposeConsoleClient derives the secret of the console's OAuth
	// client, so every node of an installation agrees on it without
	// storing it.
	PurposeConsoleClient = "console-client-secret"
	// PurposeKeyCheck keys the MAC the store keeps to recognise its master
	// key (NewKeyCheck).
	PurposeKeyCheck = "master-key-check"
	// PurposeKeyID derives the short public id of a master key (KeyID).
	PurposeKeyID = "master-key-id"
	// PurposeDPoPNonce keys the authorization server's stateless DPoP
	// nonces (RFC 9449 §8), so every node accepts the others' nonces.
	PurposeDPoPNonce = "dpop-nonce"
)
