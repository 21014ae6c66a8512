"""Capabilities, one module each, free of platform code.

Each module declares what it answers to on its own ``router`` (see :mod:`bot.commands`); importing
a module registers nothing.  ``MODULES`` is the one place that lists them: the app builds its
:class:`~bot.commands.Registry` from it (``Registry.from_modules(handlers.MODULES)``).
"""

MODULES = (  # in this order: 帮助 lists a group's commands in it
    "handlers.announcements",
    "handlers.digest",
    "handlers.help",
    "handlers.identity",
    "handlers.residents",
    "handlers.rota",
    "handlers.tickets",
    "handlers.volunteers",
    "handlers.welcome",
)
