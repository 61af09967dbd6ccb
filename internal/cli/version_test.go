package cli

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuildInfo(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		info *debug.BuildInfo
		link [3]string // version, commit, build time
		want BuildInfo
	}{
		{
			name: "vcs stamped",
			info: &debug.BuildInfo{
				GoVersion: "go1.26.1",
				Main:      debug.Module{Path: "github.com/portcullis/portcullis", Version: "(devel)"},
				Settings: []debug.BuildSetting{
					{Key: "vcs.revision", Value: "abc123"},
					{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
					{Key: "vcs.modified", Value: "true"},
					{Key: "CGO_ENABLED", Value: "0"},
				},
			},
			want: BuildInfo{
				Module: "github.com/portcullis/portcullis", Version: "(devel)", Commit: "abc123",
				CommitTime: "2026-01-02T03:04:05Z", Dirty: &yes, GoVersion: "go1.26.1", Platform: "linux/amd64", CGO: &no,
			},
		},
		{
			name: "link-time values fill what the toolchain did not stamp",
			info: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/portcullis/portcullis", Version: "(devel)"}},
			link: [3]string{"v1.2.3", "def456", "2026-02-03T04:05:06Z"},
			want: BuildInfo{
				Module: "github.com/portcullis/portcullis", Version: "v1.2.3", Commit: "def456",
				BuildTime: "2026-02-03T04:05:06Z", GoVersion: "go1.26.1", Platform: "linux/amd64",
			},
		},
		{
			name: "a module version wins",
			info: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/portcullis/portcullis", Version: "v1.0.0"}},
			link: [3]string{"v9.9.9", "", ""},
			want: BuildInfo{Module: "github.com/portcullis/portcullis", Version: "v1.0.0", GoVersion: "go1.26.1", Platform: "linux/amd64"},
		},
		{
			name: "no build info",
			want: BuildInfo{Version: "(devel)", GoVersion: runtime.Version(), Platform: "linux/amd64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func(v, c, b string) { linkVersion, linkCommit, linkBuildTime = v, c, b }(linkVersion, linkCommit, linkBuildTime)
			linkVersion, linkCommit, linkBuildTime = tt.link[0], tt.link[1], tt.link[2]
			if diff := cmp.Diff(tt.want, buildInfo(tt.info, "linux/amd64")); diff != "" {
				t.Errorf("buildInfo mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	rt, stdout, _ := testRuntime("", nil)
	if err := Execute(t.Context(), []string{"version"}, rt); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "portcullis ") || !strings.Contains(stdout.String(), runtime.Version()) {
		t.Errorf("version output:\n%s", stdout)
	}

	rt, stdout, _ = testRuntime("", nil)
	if err := Execute(t.Context(), []string{"version", "--json"}, rt); err != nil {
		t.Fatal(err)
	}
	var got BuildInfo
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, stdout)
	}
	if got.GoVersion != runtime.Version() || got.Version == "" || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version --json = %+v", got)
	}
}

func TestVersionText(t *testing.T) {
	dirty := true
	got := BuildInfo{Version: "v1.2.3", Commit: "abc", Dirty: &dirty, GoVersion: "go1.26.1", Platform: "linux/arm64"}.text()
	want := "portcullis v1.2.3\n  commit:      abc (dirty)\n  go:          go1.26.1\n  platform:    linux/arm64\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("text mismatch (-want +got):\n%s", diff)
	}
}
