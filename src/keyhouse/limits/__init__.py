"""Limits and budgets: rate, token and concurrency limits and USD budgets on access
tokens, endpoints and keys, held in process or in Redis (shared by every replica)."""
