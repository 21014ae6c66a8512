"""Capabilities, one module each, free of platform code.  Importing this package registers every
command, reply and sweep they declare (see :mod:`bot.commands`)."""

import importlib
import pkgutil

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")
