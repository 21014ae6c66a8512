"""Capabilities, one module each, free of platform code.

Each module declares what it answers to on its own ``router`` (see :mod:`bot.commands`); importing
a module registers nothing.  ``MODULES`` is the one place that lists them (every module here, found
without importing it): the app builds its :class:`~bot.commands.Registry` from that list
(``Registry.from_modules(handlers.MODULES)``), so a new capability is a new module and nothing else.
"""

import pkgutil

MODULES = tuple(  # every module of this package, in name order (帮助 lists commands in it)
    f"{__name__}.{module.name}" for module in sorted(pkgutil.iter_modules(__path__),
                                                     key=lambda m: m.name)
    if not module.name.startswith("_"))
