package tracing

import (
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestReadEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		enabled  bool
		endpoint string
		err      string
	}{
		{name: "nothing set", env: nil},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			enabled: true, endpoint: "http://collector:4318/v1/traces"},
		{name: "traces endpoint used whole", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://ignored:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/custom"},
			enabled: true, endpoint: "https://collector/custom"},
		{name: "exporter otlp alone", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			enabled: true, endpoint: defaultEndpoint},
		{name: "exporter none wins", env: map[string]string{
			"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}},
		{name: "sdk disabled wins", env: map[string]string{
			"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER"},
		{name: "grpc refused", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: "http/protobuf"},
		{name: "http/protobuf", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"},
			enabled: true, endpoint: "http://collector:4318/v1/traces"},
		{name: "relative endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318"}, err: "absolute"},
		{name: "bad sampler", env: map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, err: "OTEL_TRACES_SAMPLER"},
		{name: "bad ratio", env: map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
			err: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "bad headers never quoted", env: map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_HEADERS": "secret-api-key"}, err: "OTLP headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := readEnv(envOf(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %s", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret-api-key") {
					t.Errorf("error %q quotes the headers", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.enabled != tc.enabled || s.endpoint != tc.endpoint {
				t.Errorf("enabled %v endpoint %q, want %v %q", s.enabled, s.endpoint, tc.enabled, tc.endpoint)
			}
		})
	}
}

func TestReadSampler(t *testing.T) {
	for name, want := range map[string]string{
		"":                         "ParentBased{root:AlwaysOnSampler",
		"always_off":               "AlwaysOffSampler",
		"traceidratio":             "TraceIDRatioBased{0.25}",
		"parentbased_traceidratio": "ParentBased{root:TraceIDRatioBased{0.25}",
		"parentbased_always_off":   "ParentBased{root:AlwaysOffSampler",
	} {
		s, err := readSampler(name, "0.25")
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if got := s.Description(); !strings.HasPrefix(got, want) {
			t.Errorf("%q: %s, want %s...", name, got, want)
		}
	}
}

func TestResource(t *testing.T) {
	attrs, err := readResource(envOf(map[string]string{
		"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment=prod%20eu",
		"OTEL_SERVICE_NAME":        "edge",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range attrs {
		got[string(a.Key)] = a.Value.AsString()
	}
	if got["service.name"] != "edge" || got["deployment.environment"] != "prod eu" {
		t.Errorf("resource %v", got)
	}
	attrs, _ = readResource(envOf(nil))
	if len(attrs) != 1 || attrs[0].Value.AsString() != DefaultServiceName {
		t.Errorf("default resource %v", attrs)
	}
}

func TestOffProvider(t *testing.T) {
	p, err := New(envOf(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() || p.Tracer("x") != nil {
		t.Error("tracing on with no OTEL_* variable set")
	}
	if err := p.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
	var nilP *Provider
	if nilP.Enabled() || nilP.Tracer("x") != nil {
		t.Error("a nil provider is on")
	}
}
