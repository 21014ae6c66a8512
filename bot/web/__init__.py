"""The office board: a small web app over the bot's own core and database (issue 14).

``Board(core, listen)`` serves :func:`bot.web.app.create_app` with uvicorn in the bot's event loop:
``await board.start()`` binds the socket (an error such as a port in use is raised here, not inside
uvicorn) and runs ``server.serve()`` as a task; ``await board.stop()`` asks it to finish and waits.
uvicorn's own signal handling is switched off: ``linli run`` and ``linli console`` own Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

log = logging.getLogger(__name__)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Board:
    """The board for ``core``, served on ``listen`` (``host:port``; port 0 picks a free one)."""

    def __init__(self, core, listen: str, *, secret: str | None = None) -> None:
        self.core = core
        self.host, self.port = split_listen(listen)
        self.secret = secret
        self.server = None
        self._task: asyncio.Task | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        import uvicorn

        from bot.web.app import create_app

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # the bot's own loop handles SIGINT/SIGTERM
                yield

            def install_signal_handlers(self) -> None:  # uvicorn before 0.29
                pass

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.core, secret=self.secret), log_level="warning",
                                lifespan="off", access_log=False, proxy_headers=False)
        self.server = _Server(config)
        self._task = asyncio.create_task(self.server.serve(sockets=[sock]), name="board")
        while not self.server.started and not self._task.done():  # noqa: ASYNC110 - uvicorn
            await asyncio.sleep(0.01)  # sets a plain flag, no event to wait on
        if self._task.done():
            self._task.result()  # raises what went wrong
            raise OSError(f"the board stopped at once on {self.url}")
        log.info("office board at %s", self.url)

    async def stop(self) -> None:
        if self.server is not None and self._task is not None:
            self.server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)
        if self._socket is not None:
            self._socket.close()
        self.server = self._task = self._socket = None
