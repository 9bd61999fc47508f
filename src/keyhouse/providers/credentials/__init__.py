"""Keyless credential sources: short-lived credentials the server obtains for a key (its
own cloud identity, an assumed role, an OAuth client-credentials token), cached per key
version and refreshed in the background before they expire."""
