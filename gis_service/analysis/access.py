"""Which collections an analysis may read for one caller.

A collection the caller may not read is left out of answers that combine several layers (locate, corridor,
the timeline), with a warning saying so, and refused (401 anonymous, 403 otherwise) where the caller names
it (``nearby?collection=parcels``, ``feature=parcels/123``, an area-statistics collection, a site-selection
layer). An answer that reads or leaves out a non-public collection depends on who asks: its plan is marked
private, so no shared cache keeps it.

Pure, so the same decision holds for HTTP (built from the caller's grants) and the Python ``Planner``, which
runs locally with :data:`FULL` access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gis_service.catalog import Catalog, LayerSpec
from gis_service.errors import Forbidden, NotAuthenticated


@dataclass(frozen=True)
class Access:
    #: Collections of the catalogue this caller may not read.
    hidden: frozenset[str] = frozenset()
    #: Non-public collections: an answer that reads them or leaves them out depends on who asks.
    closed: frozenset[str] = frozenset()
    #: Refusals are 401 (credentials needed) rather than 403 (a grant is missing).
    anonymous: bool = False

    @classmethod
    def of(cls, catalog: Catalog, may_read: Callable[[LayerSpec], bool], *, anonymous: bool) -> Access:
        return cls(
            hidden=frozenset(spec.id for spec in catalog if not may_read(spec)),
            closed=frozenset(spec.id for spec in catalog if not spec.public),
            anonymous=anonymous,
        )

    def readable(self, collection: str) -> bool:
        return collection not in self.hidden

    def require(self, collection: str, parameter: str | None) -> None:
        """Refuse a collection the caller asked for by name (or that the question cannot do without)."""
        if collection not in self.hidden:
            return
        if self.anonymous:
            raise NotAuthenticated(f"{collection} needs credentials with a viewer grant", parameter=parameter)
        raise Forbidden(f"reading {collection} needs a viewer grant", parameter=parameter)

    def split(self, collections: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(readable, left out), each in the order given, without repeats."""
        names = tuple(dict.fromkeys(collections))
        return tuple(n for n in names if n not in self.hidden), tuple(n for n in names if n in self.hidden)

    def depends_on(self, collections: Iterable[str | None]) -> bool:
        """Whether an answer over ``collections`` differs between callers (it is private then)."""
        return any(name in self.closed for name in collections if name)


def withheld_notes(collections: Iterable[str]) -> list[str]:
    """The warnings of an answer that left collections out."""
    return [f"{name} not included: needs a viewer grant" for name in collections]


#: Every collection readable, none private: the Python ``Planner`` and the CLI, which run with the database
#: owner's rights on the machine itself.
FULL = Access()
