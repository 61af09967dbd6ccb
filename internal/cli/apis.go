package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/openapi"
)

// APIsCmd groups the API catalog commands.
type APIsCmd struct {
	Import   APIsImportCmd   `cmd:"" help:"Turn an OpenAPI 3.0/3.1 document into a gateway API entry (YAML on stdout)."`
	List     APIsListCmd     `cmd:"" help:"List the stored catalog's API versions."`
	SetState APIsSetStateCmd `cmd:"" name:"set-state" help:"Move a stored API version through its lifecycle (audited)."`
}

// APIsImportCmd reads an OpenAPI document and prints the gateway
// configuration that protects it: operations from its paths, required
// scopes from its security requirements, and the rest of each
// operation's settings from its x-portcullis-* extensions.
type APIsImportCmd struct {
	File     string   `arg:"" type:"existingfile" help:"OpenAPI document (YAML or JSON)."`
	Name     string   `help:"API name (default: derived from the document title)." placeholder:"NAME"`
	Upstream string   `help:"Backend base URL (default: the document's first server URL, when it is absolute)." placeholder:"URL"`
	BasePath string   `help:"Base path on the gateway (default: the document's first server path)." placeholder:"PATH"`
	Audience []string `help:"Audience a token must name to call the API (repeatable; default urn:portcullis:api:NAME)." placeholder:"AUD"`
}

// importedAPI is the YAML shape of one gateway API entry, with only the
// fields an import fills.
type importedAPI struct {
	Name       string              `yaml:"name"`
	Version    string              `yaml:"version,omitempty"`
	BasePath   string              `yaml:"base_path"`
	Upstream   string              `yaml:"upstream"`
	Audiences  []string            `yaml:"audiences,omitempty,flow"`
	Operations []importedOperation `yaml:"operations"`
}

type importedOperation struct {
	Method string   `yaml:"method"`
	Path   string   `yaml:"path"`
	Scopes []string `yaml:"scopes,omitempty,flow"`
	Public bool     `yaml:"public,omitempty"`
	// Settings are what the operation's x-portcullis-* extensions set,
	// by operation field ("limits", "response"), as written.
	Settings map[string]any `yaml:",inline"`
}

// Run parses the document and prints the entry for the apis list of the
// gateway section.
func (c *APIsImportCmd) Run(_ context.Context, rt *Runtime) error {
	data, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	// The catalog decodes the extensions strictly, so that what is
	// printed holds no field the configuration would refuse to read.
	im, err := catalog.ImportOpenAPI(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	doc := im.Doc
	out := importedAPI{Name: c.Name, Version: doc.Version, BasePath: c.BasePath, Upstream: c.Upstream}
	if out.Upstream == "" {
		out.Upstream = doc.ServerURL
	}
	if out.Upstream == "" {
		// Guessing would send the API's traffic to whatever listens
		// there; the backend's address is the operator's to say.
		return fmt.Errorf("%s: servers[0].url is missing or not an absolute http(s) URL, so the backend is unknown: pass --upstream URL (such as --upstream http://10.0.0.7:9000)", c.File)
	}
	if out.Name == "" {
		out.Name = slug(doc.Title)
	}
	if out.BasePath == "" {
		out.BasePath = doc.BasePath
	}
	if out.BasePath == "" {
		out.BasePath = "/" + out.Name
	}
	needsToken := false
	for _, op := range doc.Operations {
		settings, err := operationSettings(op.Extensions)
		if err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
		out.Operations = append(out.Operations, importedOperation{
			Method: op.Method, Path: op.Path, Scopes: op.Scopes, Public: op.Public, Settings: settings,
		})
		needsToken = needsToken || !op.Public
	}
	// RFC 9068 §4: an API that takes tokens checks their audience, and the
	// catalog refuses one without audiences; the default follows the
	// warehouse example's naming.
	if needsToken {
		out.Audiences = c.Audience
		if len(out.Audiences) == 0 {
			out.Audiences = []string{"urn:portcullis:api:" + out.Name}
		}
	}
	b, err := yaml.Marshal([]importedAPI{out})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(rt.Stdout, "# gateway.apis entry generated from %s\n%s", c.File, b)
	return err
}

// operationSettings turns an operation's extensions into the fields of
// its entry, their values as the document writes them (aliases
// expanded); nil when it has none.
func operationSettings(exts []openapi.Extension) (map[string]any, error) {
	var settings map[string]any
	for i := range exts {
		e := &exts[i]
		field, ok := catalog.OpenAPIExtensionField(e.Name)
		if !ok {
			// ImportOpenAPI has refused it already.
			return nil, &openapi.Error{Path: e.Path, Line: e.Line, Msg: "not an operation setting", Err: openapi.ErrInvalid}
		}
		var v any
		if err := e.Value.Decode(&v); err != nil {
			return nil, &openapi.Error{Path: e.Path, Line: e.Line, Msg: err.Error(), Err: openapi.ErrInvalid}
		}
		if settings == nil {
			settings = map[string]any{}
		}
		settings[field] = v
	}
	return settings, nil
}

// slug makes a config-friendly name from a document title.
func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "api"
	}
	return s
}
