package keys

// MasterKeyEnv names the environment variable holding the base64 master key.
const MasterKeyEnv = "PORTCULLIS_MASTER_KEY"

// LoadMasterKey returns the 32-byte master key: from envValue (standard or
// URL-safe base64 of 32 bytes) when non-empty, else from the file at path,
// which is created with mode 0600 holding a fresh random key when absent
// (created reports that, so the caller can log the path).
func LoadMasterKey(envValue, path string) (key []byte, created bool, err error) { panic("todo") }

// DeriveKey returns a 32-byte subkey of master for purpose (HKDF-SHA-256),
// so each use (client-secret digests, cookies, sealing) has its own key.
func DeriveKey(master []byte, purpose string) []byte { panic("todo") }

// Sealer encrypts small secrets with AES-256-GCM under a key derived from
// the master key.
type Sealer struct{}

// NewSealer returns a sealer keyed from master for purpose.
func NewSealer(master []byte, purpose string) (*Sealer, error) { panic("todo") }

// Seal encrypts plaintext bound to aad (nonce prepended).
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) { panic("todo") }

// Open decrypts what Seal produced with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) { panic("todo") }
