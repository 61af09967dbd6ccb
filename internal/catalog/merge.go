package catalog

import (
	"fmt"
	"slices"
	"time"
)

// Clash says why a stored API may not sit beside the configuration
// file's APIs: the file already declares its name or its base path. It
// returns "" when there is no clash. The file's APIs own their names: a
// stored version of an API the file declares is refused whatever its
// version, so one API is never managed in two places.
func Clash(file []API, a *API) string {
	for j := range file {
		f := &file[j]
		switch {
		case f.Name == a.Name:
			return fmt.Sprintf("API name %q is declared in the configuration file (gateway.apis[%d]) and in the stored catalog (%s %s)",
				a.Name, j, a.Name, versionOr(a.Version))
		case PathProblem(f.BasePath, false) == "" && PathProblem(a.BasePath, false) == "" &&
			NormalizeBasePath(f.BasePath) == NormalizeBasePath(a.BasePath):
			return fmt.Sprintf("base path %q is used in the configuration file (gateway.apis[%d], API %q) and in the stored catalog (%s %s)",
				NormalizeBasePath(a.BasePath), j, f.Name, a.Name, versionOr(a.Version))
		}
	}
	return ""
}

// PlanClash is Clash for a stored plan against the file's plans.
func PlanClash(file map[string][]Limit, name string) string {
	if _, ok := file[name]; ok {
		return fmt.Sprintf("plan %q is declared in the configuration file (ratelimit.plans) and in the stored catalog", name)
	}
	return ""
}

func versionOr(v string) string {
	if v == "" {
		return defaultAPIVersion
	}
	return v
}

// Merge returns what a gateway of group serves: base (the configuration
// file's catalog) plus the stored document's published and deprecated
// versions served by group (VersionEntry.ServedBy), which carry their
// Deprecation and Sunset, and its plans. Group "" stands for every
// group at once: what validation checks, so a version moved to another
// group later cannot break that group's gateways. Plans are not per
// group: a plan names limits, and serving it costs nothing where no API
// uses it.
//
// Stored entries that clash with the file (see Clash; writes refuse
// them, but the file may change later) are left out, the file winning,
// and reported. base is not modified.
func Merge(base Snapshot, d Document, group string) (Snapshot, []string) {
	s := base.Clone()
	var skipped []string
	fileAPIs := base.APIs
	for _, e := range d.APIs {
		if !e.State.Served() || (group != "" && !e.ServedBy(group)) {
			continue
		}
		if why := Clash(fileAPIs, &e.API); why != "" {
			skipped = append(skipped, why)
			continue
		}
		a := e.API.clone()
		a.Deprecation, a.Sunset = e.Deprecated, e.Sunset
		if e.State != StateDeprecated {
			a.Deprecation = time.Time{}
		}
		s.APIs = append(s.APIs, a)
	}
	for _, p := range d.Plans {
		if why := PlanClash(base.RateLimit.Plans, p.Name); why != "" {
			skipped = append(skipped, why)
			continue
		}
		if s.RateLimit.Plans == nil {
			s.RateLimit.Plans = map[string][]Limit{}
		}
		s.RateLimit.Plans[p.Name] = slices.Clone(p.Limits)
	}
	return s, skipped
}
