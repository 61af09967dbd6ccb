package keys_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/keys"
)

func TestLoadMasterKeyFromEnv(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, 32) // 0xfb exercises the +/ vs -_ alphabets
	tests := []struct {
		name    string
		env     string
		wantErr bool
	}{
		{"std padded", base64.StdEncoding.EncodeToString(key), false},
		{"std raw", base64.RawStdEncoding.EncodeToString(key), false},
		{"url padded", base64.URLEncoding.EncodeToString(key), false},
		{"url raw", base64.RawURLEncoding.EncodeToString(key), false},
		{"trailing newline", base64.StdEncoding.EncodeToString(key) + "\n", false},
		{"not base64", "this is not a key!", true},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), true},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(key, 1)), true},
		{"hex", hex.EncodeToString(key), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The path is never consulted when the env value is set.
			path := filepath.Join(t.TempDir(), "absent", "master.key")
			got, created, err := keys.LoadMasterKey(tt.env, path)
			if tt.wantErr {
				if !errors.Is(err, keys.ErrBadMasterKey) {
					t.Fatalf("LoadMasterKey() error = %v, want ErrBadMasterKey", err)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.env)) {
					t.Errorf("error %q echoes the key value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadMasterKey() error = %v", err)
			}
			if !bytes.Equal(got, key) || created {
				t.Errorf("LoadMasterKey() = %x, created %v; want %x, false", got, created, key)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("key file was touched: stat error = %v", err)
			}
		})
	}
}

func TestLoadMasterKeyCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "master.key")

	key, created, err := keys.LoadMasterKey("", path)
	if err != nil {
		t.Fatalf("first LoadMasterKey() error = %v", err)
	}
	if !created || len(key) != 32 {
		t.Fatalf("first LoadMasterKey() = %d bytes, created %v; want 32, true", len(key), created)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		// umask may narrow the mode, never widen it.
		if got := info.Mode().Perm(); got&^want != 0 {
			t.Errorf("mode of %s = %04o, want at most %04o", p, got, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}

	again, created, err := keys.LoadMasterKey("", path)
	if err != nil {
		t.Fatalf("second LoadMasterKey() error = %v", err)
	}
	if created || !bytes.Equal(again, key) {
		t.Errorf("second LoadMasterKey() created %v, same key %v; want false, true", created, bytes.Equal(again, key))
	}

	other, _, err := keys.LoadMasterKey("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Error("two created keys are equal")
	}
}

func TestLoadMasterKeyFileErrors(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    []string // substrings of the error
		notWant string   // never in the error
	}{
		{"group readable", good, 0o640, []string{"chmod 600", "master.key", "0640"}, good},
		{"world readable", good, 0o604, []string{"chmod 600"}, good},
		{"garbage", "s3cr3t-but-not-base64", 0o600, []string{"master.key", "base64"}, "s3cr3t"},
		{"short key", base64.StdEncoding.EncodeToString([]byte("short")), 0o600, []string{"32 bytes"}, "c2hvcnQ"},
		{"empty", "", 0o600, []string{"base64"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // beat the umask
				t.Fatal(err)
			}
			_, _, err := keys.LoadMasterKey("", path)
			if err == nil {
				t.Fatal("LoadMasterKey() error = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q echoes the file content", err)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tt.content {
				t.Error("the refused key file was modified")
			}
		})
	}
}

func TestLoadMasterKeyNeedsASource(t *testing.T) {
	if _, _, err := keys.LoadMasterKey("", ""); err == nil {
		t.Error("LoadMasterKey(\"\", \"\") error = nil, want an error")
	}
}

func TestDeriveKey(t *testing.T) {
	// RFC 5869 Appendix A.3 (SHA-256, empty salt and info): the first 32
	// bytes of its OKM.
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	want, _ := hex.DecodeString("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d")
	if got := keys.DeriveKey(ikm, ""); !bytes.Equal(got, want) {
		t.Errorf("DeriveKey(RFC 5869 A.3) = %x, want %x", got, want)
	}

	master := bytes.Repeat([]byte{1}, 32)
	a1, a2 := keys.DeriveKey(master, "a"), keys.DeriveKey(master, "a")
	b := keys.DeriveKey(master, "b")
	if !bytes.Equal(a1, a2) {
		t.Error("DeriveKey is not deterministic")
	}
	if bytes.Equal(a1, b) {
		t.Error("DeriveKey gives the same key for two purposes")
	}
	if len(a1) != 32 {
		t.Errorf("len(DeriveKey()) = %d, want 32", len(a1))
	}
}
