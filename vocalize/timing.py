"""Timing spans on the Python side, merged with the native engine's spans into one tree
for ``vocalize speak --verbose``."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, TextIO

_enabled = False
_stack: list["Span"] = []


@dataclass
class Span:
    name: str
    duration: float = 0.0
    fields: str = ""
    children: list["Span"] = field(default_factory=list)


def enable() -> Span:
    """Starts recording; returns the root span that collects everything."""
    global _enabled
    _enabled = True
    root = Span("vocalize")
    _stack[:] = [root]
    return root


def add(span: Span) -> None:
    if _enabled and _stack:
        _stack[-1].children.append(span)


@contextmanager
def span(name: str, fields: str = "", *, native: bool = False) -> Iterator[Span]:
    """Times a block. With ``native=True`` the spans the native engine closed meanwhile
    become its children."""
    if not _enabled:
        yield Span(name)
        return
    current = Span(name, fields=fields)
    add(current)
    _stack.append(current)
    start = time.perf_counter()
    try:
        yield current
    finally:
        current.duration = time.perf_counter() - start
        _stack.pop()
        if native:
            current.children.extend(native_spans())


def native_spans() -> list[Span]:
    """Spans the native engine closed since last asked, as trees."""
    from . import _native

    records = sorted(_native.take_spans(), key=lambda r: r[4])  # by start time
    nodes = {rid: Span(name, duration / 1e9, fields) for rid, _, name, fields, _, duration in records}
    roots = []
    for rid, parent, *_ in records:
        (nodes[parent].children if parent in nodes else roots).append(nodes[rid])
    return roots


def process_age() -> float | None:
    """Seconds since this process started (Linux), or None where unknown."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def render(root: Span, out: TextIO) -> None:
    """Prints the tree with durations in milliseconds."""
    rows: list[tuple[str, Span]] = []

    def walk(node: Span, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        rows.append((prefix + branch, node))
        child_prefix = prefix + ("" if top else ("   " if last else "│  "))
        for i, child in enumerate(node.children):
            walk(child, child_prefix, i == len(node.children) - 1, False)

    walk(root, "", True, True)
    width = max(len(p) + len(n.name) + (len(n.fields) + 1 if n.fields else 0) for p, n in rows)
    for prefix, node in rows:
        label = prefix + node.name + (f" {node.fields}" if node.fields else "")
        out.write(f"{label:<{width}}  {node.duration * 1000:9.1f} ms\n")
