package tracing

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES name none.
const DefaultServiceName = "portcullis"

// defaultEndpoint is the OTLP/HTTP traces URL of a collector on this
// host, what the specification prescribes when tracing is asked for with
// OTEL_TRACES_EXPORTER=otlp and no endpoint.
const defaultEndpoint = "http://localhost:4318/v1/traces"

// settings is what the environment asks for.
type settings struct {
	enabled  bool
	endpoint string // the full traces URL
	headers  map[string]string
	timeout  time.Duration
	gzip     bool
	sampler  sdktrace.Sampler
	// resource are the resource attributes, service.name among them.
	resource []attribute.KeyValue
}

// readEnv interprets the OTEL_* variables of the OpenTelemetry
// specification (sdk-environment-variables.md) that apply to an OTLP/HTTP
// trace exporter. Tracing is on when OTEL_TRACES_EXPORTER says otlp, or
// when it is unset and an OTLP endpoint is; OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none turn it off whatever else is set. A value it
// cannot honour is an error, so a misspelt setting does not silently
// leave a node untraced.
func readEnv(getenv func(string) string) (settings, error) {
	var s settings
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return s, nil
	}
	tracesEndpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return s, nil
	case "otlp":
		s.enabled = true
	case "":
		s.enabled = tracesEndpoint != "" || endpoint != ""
	default:
		return s, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp or none", exp)
	}
	if !s.enabled {
		return s, nil
	}
	proto := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	if proto != "" && proto != "http/protobuf" {
		return s, fmt.Errorf("OTLP protocol %q: only http/protobuf is supported", proto)
	}
	var err error
	switch {
	case tracesEndpoint != "":
		// Used as given: the specification says a signal-specific URL
		// is the whole URL.
		s.endpoint = tracesEndpoint
	case endpoint != "":
		s.endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
	default:
		s.endpoint = defaultEndpoint
	}
	if u, err := url.Parse(s.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not quoted back: it may carry credentials.
		return s, errors.New("OTLP traces endpoint: want an absolute http or https URL")
	}
	if s.headers, err = parseList(firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")); err != nil {
		// The headers usually hold an API key: never quoted back.
		return s, errors.New("OTLP headers: want comma-separated key=value pairs")
	}
	if t := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); t != "" {
		ms, err := strconv.Atoi(t)
		if err != nil || ms <= 0 {
			return s, fmt.Errorf("OTLP timeout %q: want a positive number of milliseconds", t)
		}
		s.timeout = time.Duration(ms) * time.Millisecond
	}
	switch c := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"); c {
	case "", "none":
	case "gzip":
		s.gzip = true
	default:
		return s, fmt.Errorf("OTLP compression %q: want gzip or none", c)
	}
	if s.sampler, err = readSampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return s, err
	}
	if s.resource, err = readResource(getenv); err != nil {
		return s, err
	}
	return s, nil
}

// readSampler maps OTEL_TRACES_SAMPLER and its argument to a sampler;
// unset is parentbased_always_on, the specification's default.
func readSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if strings.TrimSpace(arg) == "" {
			return 1, nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		if err != nil || f < 0 || f > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", arg)
		}
		return f, nil
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		f, err := ratio()
		return sdktrace.TraceIDRatioBased(f), err
	case "parentbased_traceidratio":
		f, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(f)), err
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio or their parentbased_ forms", name)
	}
}

// readResource reads OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME,
// which takes precedence for service.name.
func readResource(getenv func(string) string) ([]attribute.KeyValue, error) {
	pairs, err := parseList(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, errors.New("OTEL_RESOURCE_ATTRIBUTES: want comma-separated key=value pairs")
	}
	if name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); name != "" {
		pairs["service.name"] = name
	}
	if pairs["service.name"] == "" {
		pairs["service.name"] = DefaultServiceName
	}
	attrs := make([]attribute.KeyValue, 0, len(pairs))
	for k, v := range pairs {
		attrs = append(attrs, attribute.String(k, v))
	}
	return attrs, nil
}

// parseList parses the W3C Baggage-like "k1=v1,k2=v2" lists of the
// specification, values percent-decoded.
func parseList(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("malformed pair")
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, errors.New("malformed value")
		}
		out[k] = dv
	}
	return out, nil
}

// firstSet returns the first of the variables that is set, trimmed.
func firstSet(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}
