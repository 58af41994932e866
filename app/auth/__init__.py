"""Signing in and staying signed in: sessions, tokens, lockout, reset/verify links, API keys."""
