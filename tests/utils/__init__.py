"""Helpers shared by test modules. Test modules import from here (or use conftest fixtures),
never from one another: tests/test_layout.py checks it."""
