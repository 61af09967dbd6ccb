package clientauth

// DecoyChecks reports how many signature checks a ran against a decoy key
// because it had no real key to check against.
func DecoyChecks(a *Authenticator) int64 { return a.decoys.Load() }
