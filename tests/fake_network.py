"""Loopback peers for tests of connections: a listener that counts who knocks, and a proxy in
front of the test PostgreSQL server that can stop answering mid-session.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType


class Listener:
    """A TCP port on 127.0.0.1 that accepts connections, says nothing, and counts them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self._open:
            conn.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def upstream_of(dsn: str) -> Callable[[], socket.socket]:
    """Returns a function that opens a raw connection to the server ``dsn`` names (a Unix
    socket directory or a TCP host)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or "/tmp")
    port = int(params.get("port") or 5432)
    if host.startswith("/"):
        path = f"{host}/.s.PGSQL.{port}"

        def unix() -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock

        return unix
    return lambda: socket.create_connection((host, port))


class FreezingProxy:
    """Forwards a PostgreSQL session between 127.0.0.1 and the server, and stops forwarding the
    server's answers (holding the connection open) after its ``freeze_after``-th
    ReadyForQuery: a server, or a network path, that stops answering after connect.

    Clients must not ask for TLS (``sslmode=disable``): the proxy reads the server's messages.
    """

    def __init__(self, connect: Callable[[], socket.socket], freeze_after: int) -> None:
        self.connect = connect
        self.freeze_after = freeze_after
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.frozen = threading.Event()
        self._sockets: list[socket.socket] = [self.sock]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = self.connect()
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def _answers(self, server: socket.socket, client: socket.socket) -> None:
        """Forwards whole server messages until the freeze, then reads and drops the rest."""
        buffer = b""
        ready = 0
        try:
            while data := server.recv(65536):
                if self.frozen.is_set():
                    continue
                buffer += data
                while len(buffer) >= 5:
                    kind = buffer[:1]
                    (length,) = struct.unpack("!I", buffer[1:5])
                    if len(buffer) < 1 + length:
                        break
                    message, buffer = buffer[: 1 + length], buffer[1 + length :]
                    client.sendall(message)
                    if kind == b"Z":
                        ready += 1
                        if ready >= self.freeze_after:
                            self.frozen.set()
                            break
        except OSError:
            pass

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> FreezingProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
