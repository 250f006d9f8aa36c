"""Thin HTTP handlers: parse with dependencies, call the repository, shape the answer."""
