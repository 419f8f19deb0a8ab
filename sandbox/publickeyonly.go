package sandbox

// publicKeyOnly reports whether the merchant has only the WeChat Pay
// public key (SetPublicKeyOnly): WeChat Pay then signs its answers,
// GET /v3/certificates' 404 included, with the public key.
func (s *Server) publicKeyOnly() bool {
	s.certs.mu.RLock()
	defer s.certs.mu.RUnlock()
	return s.certs.publicKeyOnly
}
