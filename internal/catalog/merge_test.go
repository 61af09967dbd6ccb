package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMerge(t *testing.T) {
	file := Snapshot{
		APIs:      []API{{Name: "warehouse", BasePath: "/warehouse", Upstream: "http://127.0.0.1:1", Public: true}},
		RateLimit: RateLimits{Plans: map[string][]Limit{"free": nil}},
	}
	dep := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := Document{
		APIs: []VersionEntry{
			{API: API{Name: "shop", Version: "v1", BasePath: "/shop/v1"}, State: StateDeprecated, Deprecated: dep},
			{API: API{Name: "shop", Version: "v2", BasePath: "/shop/v2"}, State: StatePublished, Deprecated: dep},
			{API: API{Name: "shop", Version: "v3", BasePath: "/shop/v3"}, State: StateDraft},
			{API: API{Name: "shop", Version: "v0", BasePath: "/shop/v0"}, State: StateRetired},
			{API: API{Name: "warehouse", Version: "v2", BasePath: "/warehouse/v2"}, State: StatePublished},
			{API: API{Name: "other", Version: "v1", BasePath: "/warehouse/"}, State: StatePublished},
		},
		Plans: []PlanEntry{{Name: "gold"}, {Name: "free"}},
	}
	s, skipped := Merge(file, d, DefaultGatewayGroup)
	var got []string
	for _, a := range s.APIs {
		got = append(got, a.Name+" "+a.Version)
	}
	if strings.Join(got, ",") != "warehouse ,shop v1,shop v2" {
		t.Fatalf("served APIs = %v", got)
	}
	if !s.APIs[1].Deprecation.Equal(dep) || !s.APIs[2].Deprecation.IsZero() {
		t.Errorf("Deprecation: v1 %v, v2 %v; want only the deprecated version's", s.APIs[1].Deprecation, s.APIs[2].Deprecation)
	}
	if _, ok := s.RateLimit.Plans["gold"]; !ok || len(file.RateLimit.Plans) != 1 {
		t.Errorf("plans: merged %v, file's %v; want gold added to a copy", s.RateLimit.Plans, file.RateLimit.Plans)
	}
	want := []string{
		`API name "warehouse" is declared in the configuration file (gateway.apis[0]) and in the stored catalog (warehouse v2)`,
		`base path "/warehouse" is used in the configuration file (gateway.apis[0], API "warehouse") and in the stored catalog (other v1)`,
		`plan "free" is declared in the configuration file (ratelimit.plans) and in the stored catalog`,
	}
	if strings.Join(skipped, "\n") != strings.Join(want, "\n") {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(want, "\n"))
	}
}

// TestMergeGatewayGroups: a gateway serves the versions of its own
// group; a version naming no group is the default group's; group ""
// (validation) takes every served version whatever its groups.
func TestMergeGatewayGroups(t *testing.T) {
	d := Document{APIs: []VersionEntry{
		{API: API{Name: "shop", Version: "v1", BasePath: "/shop/v1"}, State: StatePublished},
		{API: API{Name: "shop", Version: "v2", BasePath: "/shop/v2"}, State: StatePublished, Gateways: []string{"edge"}},
		{API: API{Name: "shop", Version: "v3", BasePath: "/shop/v3"}, State: StateDeprecated, Gateways: []string{"edge", DefaultGatewayGroup}},
		{API: API{Name: "shop", Version: "v4", BasePath: "/shop/v4"}, State: StateDraft, Gateways: []string{"edge"}},
		{API: API{Name: "shop", Version: "v5", BasePath: "/shop/v5"}, State: StatePublished, Gateways: []string{"internal"}},
	}}
	tests := []struct {
		group string
		want  []string
	}{
		{DefaultGatewayGroup, []string{"shop v1", "shop v3"}},
		{"edge", []string{"shop v2", "shop v3"}},
		{"internal", []string{"shop v5"}},
		{"nobody", nil},
		{"", []string{"shop v1", "shop v2", "shop v3", "shop v5"}},
	}
	for _, tc := range tests {
		t.Run("group="+tc.group, func(t *testing.T) {
			s, skipped := Merge(Snapshot{}, d, tc.group)
			var got []string
			for _, a := range s.APIs {
				got = append(got, a.Name+" "+a.Version)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || len(skipped) != 0 {
				t.Errorf("Merge(group %q) served (-want +got):\n%s\nskipped %v", tc.group, diff, skipped)
			}
		})
	}
}

func TestVersionsShareAName(t *testing.T) {
	s := Snapshot{APIs: []API{
		{Name: "shop", Version: "v1", BasePath: "/shop/v1", Upstream: "http://127.0.0.1:1", Public: true, Operations: []Operation{{Path: "/x"}}},
		{Name: "shop", Version: "v2", BasePath: "/shop/v2", Upstream: "http://127.0.0.1:1", Public: true, Operations: []Operation{{Path: "/x"}}},
	}}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("two versions of one API: %v", err)
	}
	s.APIs[1].Version = "v1"
	s.APIs[1].BasePath = "/shop/other"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `apis[1].name: "shop" version "v1" is also the name and version of apis[0]`) {
		t.Fatalf("a name and version twice: %v", err)
	}
}
