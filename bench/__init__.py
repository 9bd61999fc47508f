"""Keyhouse's overhead benchmark: ``python -m bench`` (``make bench``).

Measures what the gateway adds on top of a provider, against two baselines: calling a
fast fake upstream directly, and a bare Starlette pass-through proxy (the floor for any
Python proxy). Everything runs on 127.0.0.1, in separate processes, in under 2 minutes.
"""
