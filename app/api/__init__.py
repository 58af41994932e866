"""The HTTP layer: one router per resource under routes/, the shared dependencies in deps.py."""
