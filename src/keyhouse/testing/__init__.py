"""Helpers for testing and demoing Keyhouse without a provider account."""
