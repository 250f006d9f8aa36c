"""Pure statement builders: no I/O, no FastAPI."""
