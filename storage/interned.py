"""Rows made into objects once: a row read again gives back the object made from it the first time.

值班 reads some forty shifts, forty people and twenty rotas on every question, mostly the same rows
as the question before.  A frozen dataclass costs ~1.3 µs to make (``__init__`` sets each field
through ``object.__setattr__``) and ~0.25 µs to find by its row's values: about 0.1 ms a 值班
(P1 in docs/bench-results.md).  The objects are immutable values (frozen, compared by value), so an
equal object made earlier is as good as a new one to every caller.

A row's values are the key: rows equal as tuples make equal objects.  (Python finds ``1`` equal to
``1.0``, but a column's type affinity gives every row the same type for the same number: REAL
columns return floats, INTEGER ones return ints for whole numbers.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
LIMIT = 4096  # objects kept per kind; the lot is forgotten when full (a rare, cheap reset)


def interned(make: Callable[..., T], limit: int = LIMIT) -> Callable[[Sequence], T]:
    """``make(*row)`` for a row selected in ``make``'s field order, made once per distinct row."""
    known: dict[tuple, T] = {}

    def from_row(row: Sequence) -> T:
        values = tuple(row)
        found = known.get(values)
        if found is None:
            if len(known) >= limit:
                known.clear()
            found = known[values] = make(*values)
        return found

    return from_row
