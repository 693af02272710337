"""Back-pressure: at most ``workers`` requests synthesize at once, at most ``queue`` wait.

A request past both bounds is refused at once (the server answers 503 with Retry-After)
instead of waiting for an unknown time. Waiting requests are served first come, first
served; one that gives up (its client went away) leaves the queue.
"""

from __future__ import annotations

import asyncio
import collections
import math


class Busy(Exception):
    """No worker is free and the queue is full, or the wait took too long."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Admission:
    """Worker slots and a bounded FIFO queue of requests waiting for one. Asyncio only:
    every method runs on the event loop."""

    def __init__(self, workers: int, queue: int, wait_limit: float) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if queue < 0:
            raise ValueError("queue must be at least 0")
        self.workers = workers
        self.limit = queue
        self.wait_limit = wait_limit
        self.busy = 0
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        # A moving average of how long a request holds a worker, for Retry-After.
        self.hold = 2.0

    @property
    def queued(self) -> int:
        return len(self.waiting)

    def retry_after(self) -> int:
        """Seconds until a worker is likely free for one more request."""
        ahead = self.queued + 1
        return max(1, min(60, math.ceil(self.hold * ahead / self.workers)))

    async def acquire(self) -> None:
        """Waits for a worker slot; raises :class:`Busy` when the queue is full or the wait
        passes ``wait_limit`` seconds."""
        if self.busy < self.workers and not self.waiting:
            self.busy += 1
            return
        if len(self.waiting) >= self.limit:
            raise Busy(f"server busy: {self.busy} requests synthesizing and {self.queued} waiting", self.retry_after())
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(ticket)
        try:
            await asyncio.wait_for(asyncio.shield(ticket), self.wait_limit)
        except BaseException as e:
            if ticket.done() and not ticket.cancelled():
                self.release()  # the slot came as we gave up: hand it on
            else:
                ticket.cancel()
                self._drop(ticket)
            if isinstance(e, asyncio.TimeoutError):
                raise Busy(f"server busy: waited {self.wait_limit:g} s for a free worker", self.retry_after()) from None
            raise

    def release(self, held: float | None = None) -> None:
        """Gives a slot back (to the first waiting request, if any); ``held`` is how long the
        request had it, in seconds."""
        if held is not None:
            self.hold = 0.8 * self.hold + 0.2 * held
        while self.waiting:
            ticket = self.waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)  # the slot passes on: busy stays the same
                return
        self.busy -= 1

    def _drop(self, ticket: "asyncio.Future[None]") -> None:
        try:
            self.waiting.remove(ticket)
        except ValueError:
            pass

