package keys

// Tests generate many RSA keys; 2048 bits keeps them fast while exercising
// the same code paths as the 3072-bit default.
func init() { rsaBits = 2048 }

// RSABits exposes the modulus size of new RSA keys to the benchmarks.
func RSABits() int { return rsaBits }
