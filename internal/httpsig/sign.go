package httpsig

// Sign builds the base of in over m, signs it with k and returns the
// Signature-Input and Signature field values under label. in's keyid and
// alg parameters are set to k's.
func Sign(m *Message, in *Input, label string, k *Key) (input, signature string, err error) {
	in.Params.KeyID, in.Params.Alg = k.ID, k.Alg
	base, err := Base(m, in)
	if err != nil {
		return "", "", err
	}
	sig, err := k.Sign(base)
	if err != nil {
		return "", "", err
	}
	return Fields(label, in, sig)
}
