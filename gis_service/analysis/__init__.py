"""Planning analyses, one SQL path for the HTTP API, the CLI and the notebooks.

Each analysis is a :class:`Plan`: named statements (from pure builders) plus a function that shapes their
rows into the answer. :func:`run` executes a plan on a sync connection (notebooks, CLI); the HTTP routers
execute the very same plan on an async connection (:func:`run_async`).
"""

from gis_service.analysis.plan import Plan, run, run_async

__all__ = ["Plan", "run", "run_async"]
