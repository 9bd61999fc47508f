"""The server's own cloud identities (Google ADC, Azure managed identity), shared by the
KMS KEK providers and the keyless auth methods. Nothing here stores a secret."""
