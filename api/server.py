"""Running the service in several processes, each listening on a socket of its own.

uvicorn's ``--workers`` share one listening socket, and the event loop that wakes first
accepts every connection that is waiting: under the few long-lived keep-alive connections
an app's HTTP client holds, one process served them all while the others idled. Here each
worker binds its own socket with ``SO_REUSEPORT``, and the kernel spreads new connections
across the sockets by a hash of their addresses.

The parent only supervises: it stops every worker on SIGINT or SIGTERM, and if one worker
exits on its own it stops the rest and exits non-zero, leaving restarts to whatever runs
the service (systemd, a container runtime).
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

__all__ = ["PortInUse", "serve_workers", "uvicorn_options"]

_STOP_SECONDS = 15.0


class PortInUse(Exception):
    """Another program already listens on the address."""


def uvicorn_options(trusted_proxies: list[str]) -> dict[str, Any]:
    """The uvicorn settings every way of serving Custos uses. Forwarded headers are believed
    only from the configured proxies: uvicorn's default believes them from loopback, which
    let any local caller choose its own address and rotate the sign-in limit away."""
    return {
        "log_config": None,
        "access_log": False,
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": ",".join(trusted_proxies) if trusted_proxies else "",
    }


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _worker(host: str, port: int) -> None:
    import uvicorn

    from consent_ledger.logs import configure_logging

    configure_logging()
    sock = _listening_socket(host, port)
    sock.listen(2048)
    from api.settings import api_settings

    config = uvicorn.Config(
        "api.app:app_from_environment",
        factory=True,
        **uvicorn_options(api_settings().trusted_proxy_list),
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(workers: int, host: str, port: int) -> int:
    """Run ``workers`` server processes until a signal or a worker's exit; the exit code."""
    # Bound but not listening, so it takes no connections: this only fails early, and with
    # a clear message, when another program holds the port.
    _listening_socket(host, port).close()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port), name=f"custos-worker-{n}")
        for n in range(workers)
    ]
    signalled = False

    def stop_all() -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its open requests

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal signalled
        signalled = True
        stop_all()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            if signalled:
                break
            process.start()
        started = [p for p in processes if p.pid is not None]
        while not signalled and all(p.is_alive() for p in started):
            wait([p.sentinel for p in started])
        stop_all()  # a worker exited on its own: the others follow
        for process in started:
            process.join(_STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if signalled else 1
