"""KEKs that live in a key-management service: the DEK is wrapped and unwrapped by the
KMS, and the KEK itself never leaves it (see docs/security.md, "Where the KEK can live")."""
