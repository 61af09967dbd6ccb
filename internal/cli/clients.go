package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
)

// ClientsCmd groups the client commands.
type ClientsCmd struct {
	Create       ClientsCreateCmd       `cmd:"" help:"Register a client; a generated secret is printed once."`
	List         ClientsListCmd         `cmd:"" help:"List clients."`
	Show         ClientsShowCmd         `cmd:"" help:"Show one client."`
	Delete       ClientsDeleteCmd       `cmd:"" help:"Delete a client and every token, code and consent of it."`
	RotateSecret ClientsRotateSecretCmd `cmd:"" name:"rotate-secret" help:"Replace a client's secret; the old one stops working at once."`
}

// ClientsCreateCmd registers a client.
type ClientsCreateCmd struct {
	Source      `embed:""`
	Remote      `embed:""`
	ID          string   `name:"id" placeholder:"ID" help:"Client id (default: random)."`
	Name        string   `placeholder:"NAME" help:"Display name, shown on the consent page (default: the id)."`
	GrantType   []string `name:"grant-type" placeholder:"GRANT" help:"client_credentials, authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:token-exchange (repeatable)."`
	RedirectURI []string `name:"redirect-uri" sep:"none" placeholder:"URI" help:"Redirect URI, compared verbatim (repeatable)."`
	// PostLogoutRedirectURI is OpenID Connect RP-Initiated Logout 1.0
	// §3.1's post_logout_redirect_uris.
	PostLogoutRedirectURI []string `name:"post-logout-redirect-uri" sep:"none" placeholder:"URI" help:"Where the end-session endpoint may send the browser after a logout, compared verbatim; the rules of --redirect-uri (repeatable)."`
	Scope                 []string `sep:"none" help:"Scopes the client may be granted (repeatable or space-separated)."`
	Audience              []string `sep:"none" help:"Default audience of its access tokens (repeatable)."`
	AuthMethod            string   `name:"auth-method" placeholder:"METHOD" help:"client_secret_basic (default), client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth, or none with --public."`
	Public                bool     `help:"A client that cannot keep a secret (SPA, native app)."`
	Format                string   `default:"opaque" enum:"opaque,jwt,split" help:"Access token format: opaque, jwt or split."`
	JWKSFile              string   `name:"jwks-file" type:"existingfile" placeholder:"FILE" help:"The client's public JWK Set: keys of use sig verify its private_key_jwt assertions (one needed with that method), keys of use enc (EC P-256/384/521, RSA >= 2048) receive response fields encrypted to it. Public keys only; a kid on each key when there are several."`
	// The RFC 8705 metadata: one subject for tls_client_auth (§2.1.2),
	// and bound tokens (§3.4).
	TLSSubjectDN   string `name:"tls-client-auth-subject-dn" placeholder:"DN" help:"tls_client_auth: the subject DN the client's certificate must have, in RFC 4514 form (CN=svc,O=Example). Exactly one --tls-client-auth-* with that method."`
	TLSSANDNS      string `name:"tls-client-auth-san-dns" placeholder:"NAME" help:"tls_client_auth: a DNS name SAN the client's certificate must carry."`
	TLSSANURI      string `name:"tls-client-auth-san-uri" placeholder:"URI" help:"tls_client_auth: a URI SAN the client's certificate must carry (spiffe://...)."`
	TLSSANIP       string `name:"tls-client-auth-san-ip" placeholder:"IP" help:"tls_client_auth: an IP address SAN the client's certificate must carry."`
	TLSSANEmail    string `name:"tls-client-auth-san-email" placeholder:"EMAIL" help:"tls_client_auth: an e-mail SAN the client's certificate must carry."`
	TLSBoundTokens bool   `name:"tls-bound-tokens" help:"Bind the client's access tokens to its TLS client certificate (RFC 8705 tls_client_certificate_bound_access_tokens); token requests without a certificate are refused."`
	Introspect     bool   `help:"Allow the client to call the introspection endpoint."`
	SkipConsent    bool   `name:"skip-consent" help:"First-party client: do not ask users for consent."`
	JSON           bool   `name:"json" help:"Print JSON."`
}

// Run validates the flags, stores the client and prints it with its secret.
func (c *ClientsCreateCmd) Run(ctx context.Context, rt *Runtime) error {
	spec := registry.ClientSpec{
		ID:                     c.ID,
		Name:                   c.Name,
		GrantTypes:             c.GrantType,
		RedirectURIs:           c.RedirectURI,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURI,
		Scopes:                 c.Scope,
		Audience:               c.Audience,
		AuthMethod:             c.AuthMethod,
		Public:                 c.Public,
		Format:                 c.Format,
		CanIntrospect:          c.Introspect,
		SkipConsent:            c.SkipConsent,
		TLSClientAuth: registry.TLSClientAuth{SubjectDN: c.TLSSubjectDN, SANDNS: c.TLSSANDNS,
			SANURI: c.TLSSANURI, SANIP: c.TLSSANIP, SANEmail: c.TLSSANEmail},
		CertBoundAccessTokens: c.TLSBoundTokens,
	}
	if c.JWKSFile != "" {
		b, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return fmt.Errorf("read --jwks-file: %w", err)
		}
		spec.JWKS = b
	}
	// Bad flags are reported before anything is opened.
	if _, err := registry.NewClient(spec, rt.now()); err != nil {
		return err
	}
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		info, err := ac.CreateClient(ctx, clientRequest(spec))
		if err != nil {
			return err
		}
		return c.print(rt, info)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		client, secret, err := in.Clients().Create(ctx, spec)
		if err != nil {
			return err
		}
		return c.print(rt, registry.NewClientInfo(client, secret))
	})
}

func (c *ClientsCreateCmd) print(rt *Runtime, info registry.ClientInfo) error {
	if c.JSON {
		return writeJSON(rt.Stdout, info)
	}
	if err := writeClient(rt.Stdout, info); err != nil {
		return err
	}
	if info.ClientSecret != "" {
		_, err := fmt.Fprintln(rt.Stdout, "\nThe secret is shown only this once: store it now.")
		return err
	}
	return nil
}

// clientRequest is spec as the admin API's body.
func clientRequest(spec registry.ClientSpec) admin.ClientRequest {
	return admin.ClientRequest{
		ClientID: spec.ID, Name: spec.Name, GrantTypes: spec.GrantTypes, RedirectURIs: spec.RedirectURIs,
		PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs,
		Scope:                  strings.Join(spec.Scopes, " "), Audience: spec.Audience, TokenEndpointAuthMethod: spec.AuthMethod,
		Public: spec.Public, AccessTokenFormat: spec.Format, JWKS: string(spec.JWKS),
		Introspect: spec.CanIntrospect, SkipConsent: spec.SkipConsent,
		TLSClientAuthSubjectDN: spec.TLSClientAuth.SubjectDN, TLSClientAuthSANDNS: spec.TLSClientAuth.SANDNS,
		TLSClientAuthSANURI: spec.TLSClientAuth.SANURI, TLSClientAuthSANIP: spec.TLSClientAuth.SANIP,
		TLSClientAuthSANEmail: spec.TLSClientAuth.SANEmail, CertBoundAccessTokens: spec.CertBoundAccessTokens,
	}
}

// ClientsListCmd lists clients.
type ClientsListCmd struct {
	Source `embed:""`
	Remote `embed:""`
	JSON   bool `name:"json" help:"Print JSON."`
}

// Run prints every client.
func (c *ClientsListCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		infos, err := ac.ListClients(ctx)
		if err != nil {
			return err
		}
		return c.print(rt, infos)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		clients, err := in.Clients().List(ctx)
		if err != nil {
			return err
		}
		infos := make([]registry.ClientInfo, len(clients))
		for i, cl := range clients {
			infos[i] = registry.NewClientInfo(cl, "")
		}
		return c.print(rt, infos)
	})
}

func (c *ClientsListCmd) print(rt *Runtime, infos []registry.ClientInfo) error {
	if c.JSON {
		return writeJSON(rt.Stdout, infos)
	}
	tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tAUTH_METHOD\tGRANT_TYPES\tFORMAT\tSCOPE")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.ClientID, in.TokenEndpointAuthMethod,
			strings.Join(in.GrantTypes, ","), in.AccessTokenFormat, in.Scope)
	}
	return tw.Flush()
}

// ClientsShowCmd shows one client.
type ClientsShowCmd struct {
	Source `embed:""`
	Remote `embed:""`
	ID     string `arg:"" name:"id" help:"Client id."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// Run prints the client.
func (c *ClientsShowCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		info, err := ac.GetClient(ctx, c.ID)
		if err != nil {
			return err
		}
		return c.print(rt, info)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		cl, err := in.Clients().Get(ctx, c.ID)
		if err != nil {
			return err
		}
		return c.print(rt, registry.NewClientInfo(cl, ""))
	})
}

func (c *ClientsShowCmd) print(rt *Runtime, info registry.ClientInfo) error {
	if c.JSON {
		return writeJSON(rt.Stdout, info)
	}
	return writeClient(rt.Stdout, info)
}

// ClientsDeleteCmd deletes a client.
type ClientsDeleteCmd struct {
	Source `embed:""`
	Remote `embed:""`
	ID     string `arg:"" name:"id" help:"Client id."`
}

// Run deletes the client with its tokens, codes and consents.
func (c *ClientsDeleteCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		if err := ac.DeleteClient(ctx, c.ID); err != nil {
			return err
		}
		return c.print(rt)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		if err := in.Clients().Delete(ctx, c.ID); err != nil {
			return err
		}
		return c.print(rt)
	})
}

func (c *ClientsDeleteCmd) print(rt *Runtime) error {
	_, err := fmt.Fprintf(rt.Stdout, "deleted client %s\n", c.ID)
	return err
}

// ClientsRotateSecretCmd replaces a client's secret.
type ClientsRotateSecretCmd struct {
	Source `embed:""`
	Remote `embed:""`
	ID     string `arg:"" name:"id" help:"Client id."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// Run issues a new secret. The old one stops working at once: there is no
// overlap window, so deploy the new secret right after.
func (c *ClientsRotateSecretCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		secret, err := ac.RotateClientSecret(ctx, c.ID)
		if err != nil {
			return err
		}
		return c.print(rt, secret)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		secret, err := in.Clients().RotateSecret(ctx, c.ID)
		if err != nil {
			return err
		}
		return c.print(rt, secret)
	})
}

func (c *ClientsRotateSecretCmd) print(rt *Runtime, secret string) error {
	if c.JSON {
		return writeJSON(rt.Stdout, struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}{c.ID, secret})
	}
	_, err := fmt.Fprintf(rt.Stdout, "client_id:     %s\nclient_secret: %s\n\nThe old secret no longer works. The new one is shown only this once: store it now.\n",
		c.ID, secret)
	return err
}

func writeClient(w io.Writer, in registry.ClientInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\n", in.ClientID)
	if in.ClientSecret != "" {
		fmt.Fprintf(tw, "client_secret:\t%s\n", in.ClientSecret)
	}
	fmt.Fprintf(tw, "client_name:\t%s\n", in.Name)
	fmt.Fprintf(tw, "token_endpoint_auth_method:\t%s\n", in.TokenEndpointAuthMethod)
	fmt.Fprintf(tw, "grant_types:\t%s\n", strings.Join(in.GrantTypes, " "))
	fmt.Fprintf(tw, "redirect_uris:\t%s\n", strings.Join(in.RedirectURIs, " "))
	if len(in.PostLogoutRedirectURIs) > 0 {
		fmt.Fprintf(tw, "post_logout_redirect_uris:\t%s\n", strings.Join(in.PostLogoutRedirectURIs, " "))
	}
	fmt.Fprintf(tw, "scope:\t%s\n", in.Scope)
	fmt.Fprintf(tw, "audience:\t%s\n", strings.Join(in.Audience, " "))
	fmt.Fprintf(tw, "access_token_format:\t%s\n", in.AccessTokenFormat)
	fmt.Fprintf(tw, "introspect:\t%t\n", in.Introspect)
	fmt.Fprintf(tw, "skip_consent:\t%t\n", in.SkipConsent)
	if in.HasJWKS {
		fmt.Fprintf(tw, "jwks:\tregistered\n")
	}
	for _, f := range []struct{ name, v string }{
		{"tls_client_auth_subject_dn", in.TLSClientAuthSubjectDN},
		{"tls_client_auth_san_dns", in.TLSClientAuthSANDNS},
		{"tls_client_auth_san_uri", in.TLSClientAuthSANURI},
		{"tls_client_auth_san_ip", in.TLSClientAuthSANIP},
		{"tls_client_auth_san_email", in.TLSClientAuthSANEmail},
	} {
		if f.v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f.name, f.v)
		}
	}
	if in.CertBoundAccessTokens {
		fmt.Fprintf(tw, "tls_client_certificate_bound_access_tokens:\ttrue\n")
	}
	return tw.Flush()
}
