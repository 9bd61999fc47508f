"""Envelope encryption of provider credentials: pure crypto, no I/O beyond the KEK
source (see docs/security.md). Storing sealed rows is ``keyhouse.store.credentials``."""
