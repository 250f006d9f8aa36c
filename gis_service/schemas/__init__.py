"""Pydantic wire formats."""
