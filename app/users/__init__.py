"""Accounts: creation, profiles, passwords, avatars, deletion."""
