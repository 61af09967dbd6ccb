package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyEnv names the environment variable holding the base64 master key.
const MasterKeyEnv = "PORTCULLIS_MASTER_KEY"

// MasterKeySize is the length of the master key and of every derived key.
const MasterKeySize = 32

// maxKeyFileSize bounds what LoadMasterKey reads: a base64 key is 44 bytes,
// so anything much larger is not a key file and must not be slurped.
const maxKeyFileSize = 1024

// ErrBadMasterKey means a master key (from the environment or a file) is not
// the base64 encoding of exactly MasterKeySize bytes. Errors wrapping it
// never include the value.
var ErrBadMasterKey = errors.New("keys: master key must be the standard or url-safe base64 of exactly 32 bytes")

// LoadMasterKey returns the 32-byte master key: from envValue (standard or
// URL-safe base64 of 32 bytes) when non-empty, else from the file at path,
// which is created with mode 0600 holding a fresh random key when absent
// (created reports that, so the caller can log the path).
//
// A key file that the group or others may read is refused: whoever reads
// the master key can open every sealed private key.
func LoadMasterKey(envValue, path string) (key []byte, created bool, err error) {
	if envValue != "" {
		key, err := decodeMasterKey([]byte(envValue))
		if err != nil {
			return nil, false, fmt.Errorf("keys: $%s: %w", MasterKeyEnv, err)
		}
		return key, false, nil
	}
	if path == "" {
		return nil, false, fmt.Errorf("keys: no master key: set $%s or a key file path", MasterKeyEnv)
	}
	key, err = readMasterKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, created, err = createMasterKeyFile(path)
	if err != nil {
		return nil, false, err
	}
	return key, created, nil
}

// decodeMasterKey accepts the four base64 alphabets an operator may have
// produced (base64, base64 -w0, openssl rand -base64, Go's URL encoding).
func decodeMasterKey(text []byte) ([]byte, error) {
	s := strings.TrimSpace(string(text))
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.Strict().DecodeString(s)
		if err == nil && len(b) == MasterKeySize {
			return b, nil
		}
	}
	// The value itself never goes into the error: it may be the key with
	// a typo.
	return nil, ErrBadMasterKey
}

// readMasterKeyFile opens path and checks its mode on the open descriptor,
// so the checked file is the one that is read.
func readMasterKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("keys: open master key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: stat master key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: master key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keys: master key file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keys: read master key file %s: %w", path, err)
	}
	if len(text) > maxKeyFileSize {
		return nil, fmt.Errorf("keys: master key file %s: %w", path, ErrBadMasterKey)
	}
	key, err := decodeMasterKey(text)
	if err != nil {
		return nil, fmt.Errorf("keys: master key file %s: %w", path, err)
	}
	return key, nil
}

// createMasterKeyFile writes a fresh key to a temporary file and links it
// into place, so two processes starting at once never read a half-written
// file: the loser of the link race reads the winner's key instead.
func createMasterKeyFile(path string) ([]byte, bool, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("keys: create master key directory: %w", err)
	}
	key := make([]byte, MasterKeySize)
	rand.Read(key) // crypto/rand.Read never fails (Go 1.24+).

	tmp, err := os.CreateTemp(dir, ".master-key-*") // mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("keys: create master key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	text := base64.StdEncoding.AppendEncode(nil, key)
	text = append(text, '\n')
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("keys: create master key file: %w", err)
	}
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("keys: write master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("keys: write master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("keys: write master key file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := readMasterKeyFile(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("keys: create master key file: %w", err)
	}
	syncDir(dir)
	return key, true, nil
}

// syncDir makes the new directory entry durable; best effort, because some
// file systems cannot fsync a directory and the key file itself is synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// DeriveKey returns a 32-byte subkey of master for purpose (HKDF-SHA-256),
// so each use (client-secret digests, cookies, sealing) has its own key.
// master must be a full-entropy key such as LoadMasterKey returns; the
// purpose is the HKDF info (RFC 5869 §3.2), so distinct purposes give
// independent keys.
func DeriveKey(master []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, purpose, MasterKeySize)
	if err != nil {
		// Only a length above 255*32 bytes fails; 32 never does.
		panic("keys: hkdf: " + err.Error())
	}
	return k
}

// checkMaster refuses anything but a 32-byte master key, so a truncated or
// empty key never silently keys a sealer.
func checkMaster(master []byte) error {
	if len(master) != MasterKeySize {
		return fmt.Errorf("keys: master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	if bytes.Count(master, []byte{0}) == len(master) {
		return errors.New("keys: master key is all zeros")
	}
	return nil
}
