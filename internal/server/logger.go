package server

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/portcullis/portcullis/internal/config"
)

// NewLogger returns the program's root logger writing to w in the format
// and at the level of cfg ("json" or "text"; debug, info, warn or error;
// empty means json and info). Components derive their own loggers with
// logger.With("component", name).
func NewLogger(w io.Writer, cfg config.Log) (*slog.Logger, error) {
	level := slog.LevelInfo
	if cfg.Level != "" {
		if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
			return nil, fmt.Errorf("log level %q: want debug, info, warn or error", cfg.Level)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.Format) {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want json or text", cfg.Format)
	}
}
