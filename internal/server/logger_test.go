package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name      string
		cfg       config.Log
		wantJSON  bool
		wantDebug bool
		wantErr   string
	}{
		{name: "defaults", cfg: config.Log{}, wantJSON: true},
		{name: "json debug", cfg: config.Log{Format: "json", Level: "debug"}, wantJSON: true, wantDebug: true},
		{name: "text warn", cfg: config.Log{Format: "text", Level: "warn"}},
		{name: "bad format", cfg: config.Log{Format: "xml"}, wantErr: "log format"},
		{name: "bad level", cfg: config.Log{Level: "loud"}, wantErr: "log level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := NewLogger(&buf, tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewLogger error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewLogger: %v", err)
			}
			logger.With("component", "test").Debug("d")
			logger.With("component", "test").Warn("w")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			want := 1
			if tt.wantDebug {
				want = 2
			}
			if got := len(lines); got != want {
				t.Fatalf("got %d lines, want %d:\n%s", got, want, buf.String())
			}
			last := lines[len(lines)-1]
			if got := json.Valid([]byte(last)); got != tt.wantJSON {
				t.Errorf("line %q: JSON = %t, want %t", last, got, tt.wantJSON)
			}
			if !strings.Contains(last, "component") {
				t.Errorf("line %q lacks the component attribute", last)
			}
		})
	}
}
