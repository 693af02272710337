"""A batch on a Ray cluster: the rows of :mod:`vocalize.batch` spoken by Ray actors.

Needs the ``ray`` extra (``pip install 'vocalize[ray]'``). Each actor holds one engine (the
model loaded once per actor, as a local worker process does) and asks Ray for as many CPUs
as it runs inference threads; the driver keeps two rows queued per actor and writes
``manifest.jsonl`` as their entries come back, so the resume rules are those of a local
batch. The output folder must be a path every node sees (a shared file system).

``address="local"`` starts Ray in this process (or uses the one already started by
``ray.init``); anything else is passed to ``ray.init(address=...)``: ``auto`` for the
cluster this machine belongs to, ``ray://HEAD:10001`` for a remote one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from .batch import Engines, Row, speak_row
from .errors import OutputError, VocalizeError

# Environment variables an actor needs to find the same assets and settings as the driver.
_FORWARDED = ("VOCALIZE_", "HF_", "XDG_", "ORT_DYLIB_PATH")


class RayUnavailable(VocalizeError):
    pass


class _Speaker:
    """One engine in one actor."""

    def __init__(self, threads: int) -> None:
        self.engines = Engines(threads)

    def speak(self, row: Row, folder: str) -> dict[str, Any]:
        try:
            return speak_row(self.engines, row, folder)
        except OutputError as e:  # a full disk: the driver stops the batch
            return {"id": row.id, "line": row.line, "sha256": row.digest, "error": str(e), "fatal": True}


def _connect(address: str) -> Any:
    try:
        import ray
    except ImportError as e:
        raise RayUnavailable(f"--ray needs Ray: pip install 'vocalize[ray]' ({e})") from None
    if not ray.is_initialized():
        if address == "local":
            # Ray runs its workers at nice 15, as background work; here they are the work, and
            # on a busy machine they would get almost no CPU.
            os.environ.setdefault("RAY_worker_niceness", "0")
        env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED)}
        try:
            ray.init(
                address=None if address == "local" else address,
                runtime_env={"env_vars": env} if env else None,
                include_dashboard=False,
                logging_level="WARNING",
                log_to_driver=False,
            )
        except Exception as e:  # ConnectionError, ValueError, RuntimeError: one line
            raise RayUnavailable(f"cannot start or reach Ray at {address}: {e}") from None
    return ray


def run_on_ray(
    rows: list[Row], folder: Path, address: str, jobs: int | None, threads: int | None, finished: Callable[[dict[str, Any]], None]
) -> None:
    """Speaks ``rows`` into ``folder`` with ``jobs`` actors (default: as many as the cluster's
    CPUs hold at ``threads`` each, default 1), calling ``finished`` with each row's entry."""
    ray = _connect(address)
    per_actor = threads or 1
    if not jobs or jobs < 1:
        jobs = max(1, int(ray.cluster_resources().get("CPU", 1) // per_actor))
    jobs = min(jobs, len(rows))
    actor = ray.remote(num_cpus=per_actor, max_restarts=1)(_Speaker)
    actors = [actor.remote(per_actor) for _ in range(jobs)]
    pending = iter(rows)
    in_flight: dict[Any, tuple[Any, Row]] = {}

    def submit(who: Any) -> None:
        row = next(pending, None)
        if row is not None:
            in_flight[who.speak.remote(row, str(folder))] = (who, row)

    try:
        for who in actors:
            submit(who)
            submit(who)
        while in_flight:
            [ready], _ = ray.wait(list(in_flight), num_returns=1)
            who, row = in_flight.pop(ready)
            try:
                entry = ray.get(ready)
            except ray.exceptions.RayError as e:  # the actor died (killed, out of memory)
                entry = {"id": row.id, "line": row.line, "sha256": row.digest, "error": f"the Ray actor failed: {type(e).__name__}"}
            if entry.pop("fatal", False):
                raise OutputError(entry["error"])
            finished(entry)
            submit(who)
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        for who in actors:
            ray.kill(who)
