"""`helpdesk serve --workers N`: N worker processes, each accepting connections on a socket of its own.

uvicorn's workers share one listening socket, and the worker that wakes first accepts every connection
waiting (asyncio accepts up to the backlog per wake-up). A burst of clients (a desk's consoles and the bots
reconnecting after a restart, a load test) lands mostly on one worker, and keep-alive clients stay there:
16 clients' connections were seen split 16/0 and 12/4 over two workers. The throughput bench measures both
(`postgresql` vs `postgresql-shared-socket`): 185 vs 150 handoff writes/s over four alternating runs. With
SO_REUSEPORT every worker listens on its own socket bound to the same port, and the kernel spreads new
connections across them (on Linux; BSD and macOS give every connection to one of the sockets, so there the
shared socket stays). A worker that dies drops the connections still waiting in its queue (they are reset);
its replacement joins the group.
"""

import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port in the port's SO_REUSEPORT group, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class OwnSocketWorker(multiprocess.Process):
    """uvicorn's worker process, listening on a socket of its own instead of the one it inherits."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the worker
        super().target([reuse_port_socket(self.config.host, self.config.port)])


def serve(app: str, **options: Any) -> None:
    """`uvicorn.run(app, **options)`, with a socket per worker where the system allows it."""
    if options.get("workers", 1) <= 1 or not sys.platform.startswith("linux"):
        uvicorn.run(app, **options)
        return
    config = uvicorn.Config(app, **options)
    # The supervisor keeps this one bound (the port stays the service's while workers restart); it never
    # listens, so the kernel hands it no connection.
    try:
        reserved = reuse_port_socket(config.host, config.port)
    except OSError as exc:  # what uvicorn says too, without the traceback
        raise SystemExit(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from exc
    # uvicorn's supervisor makes its workers from this module-level name, at start and on every restart.
    multiprocess.Process = OwnSocketWorker  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[reserved]).run()
