package deploy

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/server"
)

const kubeDir = "kubernetes"

// kubeObject is the part of a manifest the tests read.
type kubeObject struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		// Deployment
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// Deployment and PodDisruptionBudget
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		// Service: a plain map of labels.
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
	// Service selector, read separately (its shape differs).
	raw map[string]any
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
		RunAsUser      *int  `yaml:"runAsUser"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	StartupProbe    *probe `yaml:"startupProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

// readManifests decodes every document of every .yaml file in dir except
// kustomization.yaml.
func readManifests(t *testing.T, dir string) []*kubeObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*kubeObject
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var node yaml.Node
			if err := dec.Decode(&node); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			o := &kubeObject{file: filepath.Base(f)}
			if err := node.Decode(o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := node.Decode(&o.raw); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: a document without kind, apiVersion or metadata.name", f)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

func TestKubernetes(t *testing.T) {
	objs := readManifests(t, kubeDir)
	byKind := map[string][]*kubeObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	if len(byKind["Secret"]) > 0 {
		t.Error("a Secret is committed; the manifests only refer to Secrets the operator creates")
	}

	// The kustomization lists every file, and only files that exist.
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	data, err := os.ReadFile(filepath.Join(kubeDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, o := range objs {
		files[o.file] = true
	}
	if got, want := slices.Sorted(slices.Values(kust.Resources)), slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
		t.Errorf("kustomization resources %q; the manifests are %q", got, want)
	}

	configMaps := map[string]*kubeObject{}
	for _, o := range byKind["ConfigMap"] {
		configMaps[o.Metadata.Name] = o
	}
	deployments := byKind["Deployment"]
	roles := map[server.Role]bool{}
	for _, d := range deployments {
		t.Run(d.Metadata.Name, func(t *testing.T) {
			checkDeployment(t, d, configMaps, roles)
		})
	}
	if !roles[server.RoleAuthz] || !roles[server.RoleGateway] {
		t.Errorf("roles deployed: %v; want a Deployment for authz and one for gateway", roles)
	}

	// Each Service selects a Deployment and targets one of its ports.
	for _, s := range byKind["Service"] {
		sel, _ := s.raw["spec"].(map[string]any)["selector"].(map[string]any)
		d := selected(deployments, sel)
		if d == nil {
			t.Errorf("Service %s selects no Deployment's pods", s.Metadata.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if _, ok := containerPort(d.Spec.Template.Spec.Containers[0], p.TargetPort); !ok {
				t.Errorf("Service %s: targetPort %v is not a port of %s", s.Metadata.Name, p.TargetPort, d.Metadata.Name)
			}
			if p.TargetPort == "admin" || p.Port == 8081 {
				t.Errorf("Service %s publishes the admin listener", s.Metadata.Name)
			}
		}
	}
	// Each Deployment has a PodDisruptionBudget.
	for _, d := range deployments {
		covered := false
		for _, p := range byKind["PodDisruptionBudget"] {
			if matches(p.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("Deployment %s has no PodDisruptionBudget", d.Metadata.Name)
		}
	}
}

func checkDeployment(t *testing.T, d *kubeObject, configMaps map[string]*kubeObject, roles map[server.Role]bool) {
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if cmd := parseArgs(t, c.Args); cmd != "serve" {
		t.Fatalf("args %q run %q", c.Args, cmd)
	}
	nodeRoles := roleFlag(t, c.Args)
	for _, r := range nodeRoles {
		roles[r] = true
	}

	// The configuration: a read-only ConfigMap mount at --config's
	// directory, and a file that validates for these roles.
	cfgPath := c.Args[slices.Index(c.Args, "--config")+1]
	var cm *kubeObject
	for _, m := range c.VolumeMounts {
		if m.MountPath != path.Dir(cfgPath) {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("the configuration is mounted writable")
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm = configMaps[v.ConfigMap.Name]
			}
		}
	}
	if cm == nil {
		t.Fatalf("no ConfigMap is mounted at %s", path.Dir(cfgPath))
	}
	body, ok := cm.Data[path.Base(cfgPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", cm.Metadata.Name, path.Base(cfgPath))
	}
	file := filepath.Join(t.TempDir(), path.Base(cfgPath))
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	validateConfig(t, file, rolesString(nodeRoles))
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}

	// Ports: each role's listener is a container port, and the probes
	// reach the admin listener.
	for _, r := range nodeRoles {
		want := port(t, listenFor(cfg, r))
		if !slices.ContainsFunc(c.Ports, func(p struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		}) bool {
			return itoa(p.ContainerPort) == want
		}) {
			t.Errorf("the %s listener's port %s is not a container port", r, want)
		}
	}
	for name, pr := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if pr == nil {
			if name != "startup" {
				t.Errorf("no %s probe", name)
			}
			continue
		}
		if pr.HTTPGet == nil {
			t.Errorf("%s probe is not httpGet", name)
			continue
		}
		p, ok := containerPort(c, pr.HTTPGet.Port)
		if !ok {
			t.Errorf("%s probe port %v is not a container port", name, pr.HTTPGet.Port)
			continue
		}
		checkProbe(t, name+" probe", pr.HTTPGet.Path, itoa(p), cfg)
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probes %s; /healthz checks nothing else, so a database outage restarts nothing", c.LivenessProbe.HTTPGet.Path)
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probes %s, want /readyz", c.ReadinessProbe.HTTPGet.Path)
	}

	// Drain and grace fit in the termination grace period.
	stop := cfg.Shutdown.DrainDelay + cfg.Shutdown.Grace
	if period := pod.TerminationGracePeriodSeconds; period == 0 || float64(period) <= stop.Duration().Seconds() {
		t.Errorf("terminationGracePeriodSeconds %d: want more than shutdown.drain_delay + grace (%v), or the kubelet kills a draining pod", period, stop.Duration())
	}

	// Security context and resources.
	sc := pod.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		t.Error("pod runs as uid 0")
	}
	if sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("seccompProfile %q, want RuntimeDefault", sc.SeccompProfile.Type)
	}
	csc := c.SecurityContext
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if !slices.Equal(csc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop %q, want [ALL]", csc.Capabilities.Drop)
	}
	for _, k := range []string{"cpu", "memory"} {
		if c.Resources.Requests[k] == "" {
			t.Errorf("no %s request", k)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}

	// Only the authorization server holds the master key.
	hasKey := slices.ContainsFunc(c.EnvFrom, func(e struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	}) bool {
		return e.SecretRef != nil && e.SecretRef.Name == "portcullis-master-key"
	})
	if authz := slices.Contains(nodeRoles, server.RoleAuthz); hasKey != authz {
		t.Errorf("master key Secret: %v, authz role: %v (only the authorization server holds the key)", hasKey, authz)
	}
}

// containerPort resolves a probe's or Service's port (a number or a
// container port's name) against c's ports.
func containerPort(c container, ref any) (int, bool) {
	for _, p := range c.Ports {
		switch v := ref.(type) {
		case int:
			if p.ContainerPort == v {
				return v, true
			}
		case string:
			if p.Name == v {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// selected returns the Deployment whose pods carry every label of sel.
func selected(ds []*kubeObject, sel map[string]any) *kubeObject {
	want := map[string]string{}
	for k, v := range sel {
		s, _ := v.(string)
		want[k] = s
	}
	for _, d := range ds {
		if len(want) > 0 && matches(want, d.Spec.Template.Metadata.Labels) {
			return d
		}
	}
	return nil
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

func itoa(n int) string { return strconv.Itoa(n) }
