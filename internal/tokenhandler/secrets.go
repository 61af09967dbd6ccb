package tokenhandler

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxSecretFile bounds a secret or key file: both are a line of text.
const maxSecretFile = 4 << 10

// secrets reads what the configuration only names: the client secret and
// the cookie keys. Errors name the variable or file, never its content.
type secrets struct {
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	baseDir  string
}

// read returns the trimmed secret from env or file (Validate made sure
// exactly one is set).
func (s secrets) read(what, env, file string) (string, error) {
	if env != "" {
		v := strings.TrimSpace(s.getenv(env))
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty", what, env)
		}
		return v, nil
	}
	path := file
	if !filepath.IsAbs(path) && s.baseDir != "" {
		path = filepath.Join(s.baseDir, path)
	}
	b, err := s.readFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: file %s is empty", what, file)
	}
	return v, nil
}

// cookieKeys reads and decodes every cookie key, in order.
func (s secrets) cookieKeys(cfg []CookieKey) ([]Key, error) {
	keys := make([]Key, 0, len(cfg))
	for i, k := range cfg {
		what := fmt.Sprintf("cookie_keys[%d] (%s)", i, k.ID)
		text, err := s.read(what, k.Env, k.File)
		if err != nil {
			return nil, err
		}
		secret, err := decodeKey(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		keys = append(keys, Key{ID: k.ID, Secret: secret})
	}
	return keys, nil
}

// ErrKeyEncoding is a cookie key that is not 32 bytes in base64.
var ErrKeyEncoding = errors.New("a cookie key must be 32 random bytes in base64 (openssl rand -base64 32)")

// decodeKey accepts either base64 alphabet, padded or not: operators
// paste keys from different tools.
func decodeKey(text string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, ErrKeyEncoding
}

// readPrivateFile reads a secret file that only its owner may read. The
// mode is checked on the open descriptor, so the file checked is the file
// read (no gap for a swap between stat and open).
func readPrivateFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by group or others (mode %04o); chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFile)
	}
	return b, nil
}
