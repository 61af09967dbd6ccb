package cli

import (
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/adminclient"
)

// DefaultTokenEnv names the variable that holds the admin API's bearer
// token in remote mode, unless --token-env names another.
const DefaultTokenEnv = "PORTCULLIS_ADMIN_BEARER"

// Remote makes a management command call a running node's admin API
// instead of opening the installation's store. The token is read from
// the environment: a flag's value would show in ps and shell history.
type Remote struct {
	Server   string `name:"server" placeholder:"URL" help:"Call this node's admin API (https, or http on loopback) instead of opening the store; the bearer token is read from --token-env."`
	TokenEnv string `name:"token-env" default:"${admin_token_env}" placeholder:"NAME" help:"Environment variable holding the admin API's bearer token (an admin access token, or the break-glass token)."`
}

// remote reports whether --server was given.
func (r Remote) remote() bool { return r.Server != "" }

// client returns the admin API client of --server. src must be empty:
// a command works on one installation.
func (r Remote) client(src Source, rt *Runtime) (*adminclient.Client, error) {
	if src.Config != "" || src.Data != "" {
		return nil, errors.New("--server works without --config and --data: give one of the three")
	}
	if r.TokenEnv == "" {
		return nil, errors.New("--token-env: name an environment variable")
	}
	token := rt.getenv(r.TokenEnv)
	if token == "" {
		return nil, fmt.Errorf("--server needs a bearer token in $%s", r.TokenEnv)
	}
	return adminclient.New(r.Server, token, nil)
}
