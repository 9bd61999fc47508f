"""What the control plane (``admin/``) and the data plane (``gateway/``) both use.

The principal (who is calling), the session check (the web UI's sign-in as a caller),
the upstream URL policy (checked when a key is saved and again at connect time) and the
error envelopes the gateway's callers parse. Modules here import neither ``admin`` nor
``gateway``; ``gateway`` never imports ``admin`` (the app factory hands it what it needs
from the control plane, such as the session lookup).
"""
