package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// catalogStates are the lifecycle states in order, for the catalog filter.
var catalogStates = []string{"draft", "published", "deprecated", "retired"}

// stateMove is how the state form offers a move to a state.
type stateMove struct{ Verb, Hint string }

var stateMoves = map[string]stateMove{
	"published":  {"Publish", "Gateways of its groups serve it within seconds."},
	"deprecated": {"Deprecate", "Still served; responses carry Deprecation (and Sunset) headers."},
	"retired":    {"Retire", "Gateways stop serving it. This is final."},
}

// stateMeanings say what each state means for callers.
var stateMeanings = map[string]string{
	"draft":      "not served",
	"published":  "served",
	"deprecated": "served, with Deprecation headers",
	"retired":    "no longer served",
}

type catalogData struct {
	Query    string
	State    string
	States   []string
	Versions []APIVersion
	Total    int
}

// catalog lists the stored API versions; q matches a name (substring) or
// a tag (whole word), both case-insensitive.
func (c *Console) catalog(w http.ResponseWriter, r *http.Request, _ caller, v *view) {
	all, err := c.o.Catalog.APIVersions(r.Context())
	if err != nil {
		c.fail(w, r, "list api versions", err)
		return
	}
	d := catalogData{
		Query: strings.TrimSpace(r.URL.Query().Get("q")), State: r.URL.Query().Get("state"),
		States: catalogStates, Total: len(all),
	}
	q := strings.ToLower(d.Query)
	for _, av := range all {
		if d.State != "" && av.State != d.State {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(av.Name), q) &&
			!slices.ContainsFunc(av.Tags, func(t string) bool { return strings.EqualFold(t, q) }) {
			continue
		}
		d.Versions = append(d.Versions, av)
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "catalog.html", *v)
}

// versionData is what the version page shows.
type versionData struct {
	V VersionDetail
	// CanChange: the caller may change the state and there is a move
	// to offer.
	CanChange bool
	// Reasons are why a state change was refused.
	Reasons []string
}

// version shows one API version. It reads only: the state form posts
// elsewhere.
func (c *Console) version(w http.ResponseWriter, r *http.Request, cl caller, v *view) {
	d, ok := c.readVersion(w, r, v)
	if !ok {
		return
	}
	// The redirect after a change says what changed; it is shown only
	// when it is still true, so a crafted link cannot claim a change.
	if to := r.URL.Query().Get("changed"); to != "" && to == d.State {
		v.Notice = "The version is now " + d.State + "."
	}
	c.showVersion(w, r, cl, v, http.StatusOK, d, nil)
}

// setState moves a version to the state the form names, guarded by the
// fingerprint of the version the operator saw.
func (c *Console) setState(w http.ResponseWriter, r *http.Request, cl caller, v *view) {
	if c.o.Lifecycle == nil || c.o.Versions == nil {
		c.unavailable(w, r, v, "Changing API versions is not available on this node.")
		return
	}
	name, ver := r.PathValue("name"), r.PathValue("version")
	to, fp := r.PostFormValue("to"), r.PostFormValue("fingerprint")
	_, err := c.o.Lifecycle.SetState(r.Context(), name, ver, to, fp)
	var refused *RefusedError
	switch {
	case err == nil:
		http.Redirect(w, r, versionPath(name, ver)+"?changed="+url.QueryEscape(to), http.StatusSeeOther)
		return
	case errors.Is(err, ErrNotFound):
		c.notFound(w, r, v, "There is no API version "+name+" "+ver+" in the stored catalog.")
		return
	case errors.Is(err, ErrStale):
		refused = &RefusedError{Reasons: []string{"The version changed since you opened this page. Review it as it is now and try again."}}
	case errors.As(err, &refused):
	default:
		c.fail(w, r, "set api version state", err)
		return
	}
	c.log.Info("console: state change refused", "api", name, "version", ver, "to", to, "err", err)
	d, ok := c.readVersion(w, r, v)
	if !ok {
		return
	}
	status := http.StatusUnprocessableEntity
	if errors.Is(err, ErrStale) {
		status = http.StatusConflict
	}
	c.showVersion(w, r, cl, v, status, d, refused.Reasons)
}

// readVersion reads the version the path names, or answers the page
// itself and reports false.
func (c *Console) readVersion(w http.ResponseWriter, r *http.Request, v *view) (VersionDetail, bool) {
	if c.o.Versions == nil {
		c.unavailable(w, r, v, "API version details are not available on this node.")
		return VersionDetail{}, false
	}
	name, ver := r.PathValue("name"), r.PathValue("version")
	d, err := c.o.Versions.Version(r.Context(), name, ver)
	switch {
	case errors.Is(err, ErrNotFound):
		c.notFound(w, r, v, "There is no API version "+name+" "+ver+" in the stored catalog.")
		return VersionDetail{}, false
	case err != nil:
		c.fail(w, r, "read api version", err)
		return VersionDetail{}, false
	}
	return d, true
}

func (c *Console) showVersion(w http.ResponseWriter, r *http.Request, cl caller, v *view, status int, d VersionDetail, reasons []string) {
	v.Title = d.Name + " " + d.Version
	v.Data = versionData{
		V:         d,
		CanChange: c.o.Lifecycle != nil && holdsAny(cl.pr.Scopes, catalogWriters) && len(d.NextStates) > 0,
		Reasons:   reasons,
	}
	c.render(w, r, status, "version.html", *v)
}

// notFound answers 404 with msg inside the console's layout.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, v *view, msg string) {
	v.Title, v.Message = "Not found", msg
	c.render(w, r, http.StatusNotFound, "forbidden.html", *v)
}

// unavailable answers 404 for a part this node does not run.
func (c *Console) unavailable(w http.ResponseWriter, r *http.Request, v *view, msg string) {
	v.Message = msg
	c.render(w, r, http.StatusNotFound, "unavailable.html", *v)
}
