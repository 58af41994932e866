"""Quill: a REST backend for blogs."""
