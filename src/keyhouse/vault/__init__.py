"""Envelope encryption of provider credentials (see SECURITY.md)."""
