package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
)

// Set at link time by builds that have no VCS metadata to stamp, such as
// a container build whose context leaves .git out:
//
//	go build -ldflags "-X github.com/portcullis/portcullis/internal/cli.linkVersion=v1.2.3 \
//	    -X github.com/portcullis/portcullis/internal/cli.linkCommit=$(git rev-parse HEAD) \
//	    -X github.com/portcullis/portcullis/internal/cli.linkBuildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// What the Go toolchain stamps itself (module version, vcs.revision)
// wins over these, since it cannot be set by mistake.
var (
	linkVersion   string
	linkCommit    string
	linkBuildTime string
)

// VersionCmd prints what the binary was built from.
type VersionCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// BuildInfo is what `portcullis version` reports. Empty fields are
// unknown: a binary built with -buildvcs=false and no -X flags knows only
// its Go version.
type BuildInfo struct {
	// Module is the main module's path.
	Module string `json:"module,omitempty"`
	// Version is the module version ("v1.2.3"), or "(devel)" for a build
	// from a work tree.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from.
	Commit string `json:"commit,omitempty"`
	// CommitTime is the revision's commit time (RFC 3339), as the VCS
	// recorded it.
	CommitTime string `json:"commit_time,omitempty"`
	// Dirty reports uncommitted changes in the work tree at build time;
	// nil when not known.
	Dirty *bool `json:"dirty,omitempty"`
	// BuildTime is when the binary was built, if the build said so
	// (linkBuildTime); the toolchain does not record it, which keeps
	// builds reproducible.
	BuildTime string `json:"build_time,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// CGO reports whether cgo was enabled; nil when not known. A
	// container image wants false (a static binary).
	CGO *bool `json:"cgo,omitempty"`
}

// ReadBuildInfo describes the running binary.
func ReadBuildInfo() BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return buildInfo(info, runtime.GOOS+"/"+runtime.GOARCH)
}

// buildInfo reads info (nil when the binary carries none) and the link-time
// values.
func buildInfo(info *debug.BuildInfo, platform string) BuildInfo {
	b := BuildInfo{GoVersion: runtime.Version(), Platform: platform}
	if info != nil {
		b.Module = info.Main.Path
		b.Version = info.Main.Version
		b.GoVersion = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.CommitTime = s.Value
			case "vcs.modified":
				if v, err := strconv.ParseBool(s.Value); err == nil {
					b.Dirty = &v
				}
			case "CGO_ENABLED":
				v := s.Value == "1"
				b.CGO = &v
			}
		}
	}
	if (b.Version == "" || b.Version == "(devel)") && linkVersion != "" {
		b.Version = linkVersion
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = linkCommit
	}
	b.BuildTime = linkBuildTime
	return b
}

// Run prints the build information.
func (c *VersionCmd) Run(_ context.Context, rt *Runtime) error {
	b := ReadBuildInfo()
	if c.JSON {
		return writeJSON(rt.Stdout, b)
	}
	_, err := fmt.Fprint(rt.Stdout, b.text())
	return err
}

// text is the human form: the version on the first line, then one
// "name: value" line per known field.
func (b BuildInfo) text() string {
	s := "portcullis " + b.Version + "\n"
	line := func(name, value string) {
		if value != "" {
			s += fmt.Sprintf("  %-12s %s\n", name+":", value)
		}
	}
	commit := b.Commit
	if commit != "" && b.Dirty != nil && *b.Dirty {
		commit += " (dirty)"
	}
	line("commit", commit)
	line("commit time", b.CommitTime)
	line("built", b.BuildTime)
	line("go", b.GoVersion)
	line("platform", b.Platform)
	if b.CGO != nil {
		line("cgo", strconv.FormatBool(*b.CGO))
	}
	return s
}
