"""httpcore's connection pool, with a bookkeeping pass that does not grow with its square.

httpcore 1.0's pool runs ``_assign_requests_to_connections`` twice per request (when it
is queued and when its response is closed). Each run asks every connection whether it is
idle once per connection (O(N²)), rebuilds the list of available connections once per
queued request (O(N·M)), and probes every idle socket with ``poll()`` to see whether the
server closed it. At 30 concurrent requests that bookkeeping was 38% of a proxy's CPU,
and a gateway holds hundreds of long streams open (encode/httpcore#1035; the maintained
fork, httpx2, rewrote the pass the same way).

This pass keeps httpcore's behaviour and fixes three things on the way:
- one walk over the connections; the idle-socket probe runs only for the connection
  about to be handed out (plus a sweep of idle ones once a second), so a connection the
  server closed is still never reused;
- an idle connection already assigned to a request that has not started yet is
  *reserved*: it is neither assigned a second time (which made the loser spin through
  ``ConnectionNotAvailable``) nor closed as surplus (encode/httpcore#1110);
- ``max_keepalive_connections`` counts idle connections, not all of them.
"""

from __future__ import annotations

import time
import typing

import httpcore

# Not exported by httpcore; only used for type hints.
Connection = typing.Any


class LeanConnectionPool(httpcore.AsyncConnectionPool):
    sweep_interval = 1.0

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[Connection]:
        closing: list[Connection] = []
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + self.sweep_interval

        reserved = {r.connection for r in self._requests if r.connection is not None}
        retained: list[Connection] = []
        free: list[Connection] = []  # idle and held by no request, oldest first
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection not in reserved and connection.is_idle():
                if sweep and connection.has_expired():
                    closing.append(connection)
                    continue
                free.append(connection)
            retained.append(connection)

        surplus = len(free) - self._max_keepalive_connections
        if surplus > 0:
            evicted, free = free[:surplus], free[surplus:]
            closing.extend(evicted)
            gone = set(evicted)
            retained = [c for c in retained if c not in gone]

        limit = self._max_connections
        for pool_request in self._requests:
            if not free and len(retained) >= limit:
                break  # nothing can be assigned: stop early on a saturated pool
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            taken = _take_idle(free, origin, closing, retained)
            if taken is not None:
                connection = taken
            else:
                if len(retained) >= limit:
                    if not free:
                        continue
                    # Full, and the idle connections serve other origins: make room.
                    victim = free.pop(0)
                    closing.append(victim)
                    retained.remove(victim)
                connection = self.create_connection(origin)
                retained.append(connection)
            pool_request.assign_to_connection(connection)

        self._connections = retained
        return closing


def _take_idle(free: list[Connection], origin: httpcore.Origin, closing: list[Connection],
               retained: list[Connection]) -> Connection | None:
    """The first reusable idle connection to ``origin``, dropping dead ones met on the
    way; None when there is none."""
    index = 0
    while index < len(free):
        connection = free[index]
        if not (connection.can_handle_request(origin) and connection.is_available()):
            index += 1
            continue
        del free[index]
        if connection.has_expired():  # keep-alive ran out, or the server hung up
            closing.append(connection)
            retained.remove(connection)
            continue
        return connection
    return None
