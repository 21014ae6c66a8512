"""Storage: the only place with SQL.  Every module here registers its repositories, which a
transaction exposes as attributes (``tx.tickets``, ``tx.people``, ``tx.outbox`` …)."""

import importlib
import pkgutil

from storage.db import Database, Repo, Tx, repository

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "db":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Database", "Repo", "Tx", "repository"]
