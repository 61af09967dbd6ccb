package oauth

// ForgetTokens drops the tokens of digests (token.Digest) from this
// node's token cache, as when this node revokes them itself: another
// node revoked them and said so in a revocation notice. Without it a
// gateway told to drop a revoked token could ask this node at once and
// be told, from a cache entry of up to two seconds, that it is active.
func (s *Server) ForgetTokens(digests [][]byte) {
	for _, d := range digests {
		s.tokens.forget(d)
	}
}

// FlushTokens drops this node's whole token cache, for a node that may
// have missed revocation notices.
func (s *Server) FlushTokens() { s.tokens.flush() }

// flush drops every record and keeps reads in flight from refilling any.
func (c *tokenCache) flush() {
	c.mu.Lock()
	c.epoch++
	clear(c.m)
	c.mu.Unlock()
}
