package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// ClientsCmd groups the client commands.
type ClientsCmd struct {
	Create       ClientsCreateCmd       `cmd:"" help:"Register a client; a generated secret is printed once."`
	List         ClientsListCmd         `cmd:"" help:"List clients."`
	Show         ClientsShowCmd         `cmd:"" help:"Show one client."`
	Delete       ClientsDeleteCmd       `cmd:"" help:"Delete a client and every token, code and consent of it."`
	RotateSecret ClientsRotateSecretCmd `cmd:"" name:"rotate-secret" help:"Replace a client's secret; the old one stops working at once."`
}

// ClientInfo is how commands show a client (RFC 7591 §2 names where one
// exists). It never holds the secret digest; ClientSecret is set only in
// the output of create and rotate-secret.
type ClientInfo struct {
	ClientID                string    `json:"client_id"`
	ClientSecret            string    `json:"client_secret,omitempty"`
	Name                    string    `json:"client_name"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	GrantTypes              []string  `json:"grant_types"`
	RedirectURIs            []string  `json:"redirect_uris"`
	Scope                   string    `json:"scope"`
	Audience                []string  `json:"audience"`
	AccessTokenFormat       string    `json:"access_token_format"`
	Introspect              bool      `json:"introspect"`
	SkipConsent             bool      `json:"skip_consent"`
	HasJWKS                 bool      `json:"has_jwks"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

// NewClientInfo describes c; secret is the one-time secret to show, or "".
func NewClientInfo(c store.Client, secret string) ClientInfo {
	return ClientInfo{
		ClientID:                c.ID,
		ClientSecret:            secret,
		Name:                    c.Name,
		TokenEndpointAuthMethod: c.AuthMethod,
		GrantTypes:              nonNil(c.GrantTypes),
		RedirectURIs:            nonNil(c.RedirectURIs),
		Scope:                   strings.Join(c.Scopes, " "),
		Audience:                nonNil(c.Audience),
		AccessTokenFormat:       c.AccessTokenFormat,
		Introspect:              c.CanIntrospect,
		SkipConsent:             c.SkipConsent,
		HasJWKS:                 len(c.JWKS) > 0,
		CreatedAt:               c.CreatedAt,
		UpdatedAt:               c.UpdatedAt,
	}
}

// ClientsCreateCmd registers a client.
type ClientsCreateCmd struct {
	Source      `embed:""`
	ID          string   `name:"id" placeholder:"ID" help:"Client id (default: random)."`
	Name        string   `placeholder:"NAME" help:"Display name, shown on the consent page (default: the id)."`
	GrantType   []string `name:"grant-type" placeholder:"GRANT" help:"client_credentials, authorization_code or refresh_token (repeatable)."`
	RedirectURI []string `name:"redirect-uri" sep:"none" placeholder:"URI" help:"Redirect URI, compared verbatim (repeatable)."`
	Scope       []string `sep:"none" help:"Scopes the client may be granted (repeatable or space-separated)."`
	Audience    []string `sep:"none" help:"Default audience of its access tokens (repeatable)."`
	AuthMethod  string   `name:"auth-method" placeholder:"METHOD" help:"client_secret_basic (default), client_secret_post, private_key_jwt, or none with --public."`
	Public      bool     `help:"A client that cannot keep a secret (SPA, native app)."`
	Format      string   `default:"opaque" enum:"opaque,jwt,split" help:"Access token format: opaque, jwt or split."`
	JWKSFile    string   `name:"jwks-file" type:"existingfile" placeholder:"FILE" help:"The client's public JWK Set, for private_key_jwt."`
	Introspect  bool     `help:"Allow the client to call the introspection endpoint."`
	SkipConsent bool     `name:"skip-consent" help:"First-party client: do not ask users for consent."`
	JSON        bool     `name:"json" help:"Print JSON."`
}

// Run validates the flags, stores the client and prints it with its secret.
func (c *ClientsCreateCmd) Run(ctx context.Context, rt *Runtime) error {
	spec := ClientSpec{
		ID:            c.ID,
		Name:          c.Name,
		GrantTypes:    c.GrantType,
		RedirectURIs:  c.RedirectURI,
		Scopes:        c.Scope,
		Audience:      c.Audience,
		AuthMethod:    c.AuthMethod,
		Public:        c.Public,
		Format:        c.Format,
		CanIntrospect: c.Introspect,
		SkipConsent:   c.SkipConsent,
	}
	if c.JWKSFile != "" {
		b, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return fmt.Errorf("read --jwks-file: %w", err)
		}
		spec.JWKS = b
	}
	client, err := NewClient(spec, rt.now())
	if err != nil {
		return err
	}
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		var secret string
		if usesSecret(client.AuthMethod) {
			key, err := m.secretKey()
			if err != nil {
				return err
			}
			if secret, err = IssueSecret(&client, key); err != nil {
				return err
			}
		}
		if err := m.db.CreateClient(ctx, client); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("client %q already exists", client.ID)
			}
			return fmt.Errorf("create client: %w", err)
		}
		info := NewClientInfo(client, secret)
		if c.JSON {
			return writeJSON(rt.Stdout, info)
		}
		if err := writeClient(rt.Stdout, info); err != nil {
			return err
		}
		if secret != "" {
			_, err = fmt.Fprintln(rt.Stdout, "\nThe secret is shown only this once: store it now.")
		}
		return err
	})
}

// ClientsListCmd lists clients.
type ClientsListCmd struct {
	Source `embed:""`
	JSON   bool `name:"json" help:"Print JSON."`
}

// Run prints every client.
func (c *ClientsListCmd) Run(ctx context.Context, rt *Runtime) error {
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		clients, err := m.db.ListClients(ctx)
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		infos := make([]ClientInfo, len(clients))
		for i, cl := range clients {
			infos[i] = NewClientInfo(cl, "")
		}
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
	})
}

// ClientsShowCmd shows one client.
type ClientsShowCmd struct {
	Source `embed:""`
	ID     string `arg:"" name:"id" help:"Client id."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// Run prints the client.
func (c *ClientsShowCmd) Run(ctx context.Context, rt *Runtime) error {
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		cl, err := getClient(ctx, m, c.ID)
		if err != nil {
			return err
		}
		if c.JSON {
			return writeJSON(rt.Stdout, NewClientInfo(cl, ""))
		}
		return writeClient(rt.Stdout, NewClientInfo(cl, ""))
	})
}

// ClientsDeleteCmd deletes a client.
type ClientsDeleteCmd struct {
	Source `embed:""`
	ID     string `arg:"" name:"id" help:"Client id."`
}

// Run deletes the client with its tokens, codes and consents.
func (c *ClientsDeleteCmd) Run(ctx context.Context, rt *Runtime) error {
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		if err := m.db.DeleteClient(ctx, c.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no client %q", c.ID)
			}
			return fmt.Errorf("delete client: %w", err)
		}
		_, err := fmt.Fprintf(rt.Stdout, "deleted client %s\n", c.ID)
		return err
	})
}

// ClientsRotateSecretCmd replaces a client's secret.
type ClientsRotateSecretCmd struct {
	Source `embed:""`
	ID     string `arg:"" name:"id" help:"Client id."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// Run issues a new secret. The old one stops working at once: there is no
// overlap window, so deploy the new secret right after.
func (c *ClientsRotateSecretCmd) Run(ctx context.Context, rt *Runtime) error {
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		cl, err := getClient(ctx, m, c.ID)
		if err != nil {
			return err
		}
		if !usesSecret(cl.AuthMethod) {
			return fmt.Errorf("client %q authenticates with %s: it has no secret to rotate", cl.ID, cl.AuthMethod)
		}
		key, err := m.secretKey()
		if err != nil {
			return err
		}
		secret, err := IssueSecret(&cl, key)
		if err != nil {
			return err
		}
		cl.UpdatedAt = rt.now()
		if err := m.db.UpdateClient(ctx, cl); err != nil {
			return fmt.Errorf("update client: %w", err)
		}
		if c.JSON {
			return writeJSON(rt.Stdout, struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret"`
			}{cl.ID, secret})
		}
		_, err = fmt.Fprintf(rt.Stdout, "client_id:     %s\nclient_secret: %s\n\nThe old secret no longer works. The new one is shown only this once: store it now.\n",
			cl.ID, secret)
		return err
	})
}

func getClient(ctx context.Context, m *managed, id string) (store.Client, error) {
	cl, err := m.db.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, fmt.Errorf("no client %q", id)
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("get client: %w", err)
	}
	return cl, nil
}

func writeClient(w io.Writer, in ClientInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\n", in.ClientID)
	if in.ClientSecret != "" {
		fmt.Fprintf(tw, "client_secret:\t%s\n", in.ClientSecret)
	}
	fmt.Fprintf(tw, "client_name:\t%s\n", in.Name)
	fmt.Fprintf(tw, "token_endpoint_auth_method:\t%s\n", in.TokenEndpointAuthMethod)
	fmt.Fprintf(tw, "grant_types:\t%s\n", strings.Join(in.GrantTypes, " "))
	fmt.Fprintf(tw, "redirect_uris:\t%s\n", strings.Join(in.RedirectURIs, " "))
	fmt.Fprintf(tw, "scope:\t%s\n", in.Scope)
	fmt.Fprintf(tw, "audience:\t%s\n", strings.Join(in.Audience, " "))
	fmt.Fprintf(tw, "access_token_format:\t%s\n", in.AccessTokenFormat)
	fmt.Fprintf(tw, "introspect:\t%t\n", in.Introspect)
	fmt.Fprintf(tw, "skip_consent:\t%t\n", in.SkipConsent)
	if in.HasJWKS {
		fmt.Fprintf(tw, "jwks:\tregistered\n")
	}
	return tw.Flush()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
