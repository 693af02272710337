"""One speech request's synthesis: :meth:`Engine.stream` on a worker thread, each piece
encoded there and handed to the event loop as bytes.

Cancelling a job (its client went away) closes its stream from the event loop's thread at
once: the inference under way is terminated and the worker thread's loop ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..encoders import Encoder

if TYPE_CHECKING:
    from ..engine import Engine, Stream

DATA, END, ERROR, CANCELLED = "data", "end", "error", "cancelled"


class Job:
    def __init__(
        self,
        engine: "Engine",
        text: str,
        voice: str,
        speed: float,
        encoder: Encoder,
        loop: asyncio.AbstractEventLoop,
        on_done: Callable[["Job"], None],
        timestamps: bool = False,
    ) -> None:
        self.engine, self.text, self.voice, self.speed, self.encoder = engine, text, voice, speed, encoder
        # Each DATA payload is then (bytes, the words of the piece with their times).
        self.timestamps = timestamps
        self.loop = loop
        self.on_done = on_done
        self.items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.stream: "Stream | None" = None
        self.audio_seconds = 0.0
        self.started = 0.0
        self.synthesis_seconds = 0.0  # from the start of synthesis to the last piece
        self.completed = False  # every piece was synthesized and encoded
        self.error: BaseException | None = None  # what stopped it, if anything failed

    def cancel(self) -> None:
        """Stops the job from any thread: its stream is closed (see :class:`Stream`)."""
        self.cancelled.set()
        stream = self.stream
        if stream is not None:
            stream.close()

    def _put(self, kind: str, payload: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.items.put_nowait, (kind, payload))
        except RuntimeError:  # the event loop is gone (server shutting down)
            self.cancel()

    def run(self) -> None:
        """Runs on a worker thread. Ends by handing over END, ERROR or CANCELLED."""
        self.started = time.perf_counter()
        stream = None
        error: BaseException | None = None
        try:
            if self.cancelled.is_set():
                return
            header = self.encoder.start()
            timed = {"timestamps": True} if self.timestamps else {}
            stream = self.stream = self.engine.stream(self.text, voice=self.voice, speed=self.speed, **timed)
            if self.cancelled.is_set():  # cancelled while the stream was being opened
                stream.close()
            for piece in stream:
                data = self.encoder.encode(piece.samples)
                if header:
                    data, header = header + data, b""
                self.audio_seconds += piece.duration
                self._put(DATA, (data, piece.words or []) if self.timestamps else data)
            if self.cancelled.is_set():
                return
            self.synthesis_seconds = time.perf_counter() - self.started
            last = header + self.encoder.finish()
            self._put(DATA, (last, []) if self.timestamps else last)
            self.completed = True
        except BaseException as e:  # handed to the request; the thread ends cleanly
            error = self.error = e
        finally:
            if stream is not None:
                stream.close()
            if not self.completed:
                self.encoder.abort()
            self._put(*((END, None) if self.completed else (ERROR, error) if error else (CANCELLED, None)))
            try:
                self.loop.call_soon_threadsafe(self.on_done, self)
            except RuntimeError:
                pass
