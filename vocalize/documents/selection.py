"""``--chapters 3-5,8,10-``: which chapters to speak."""

from __future__ import annotations

import re

from ..errors import InputError

_PART = re.compile(r"^\s*(\d*)\s*(-?)\s*(\d*)\s*$")


def parse_chapters(spec: str, count: int) -> list[int]:
    """Chapter numbers (1-based, ascending, each once) picked by ``spec``: numbers and
    ranges separated by commas; ``3-`` runs to the last chapter, ``-3`` from the first."""
    picked: set[int] = set()
    for part in spec.split(","):
        match = _PART.match(part)
        if not match or not (match.group(1) or match.group(3)) or (not match.group(2) and not match.group(1)):
            raise InputError(f"--chapters: cannot read {part.strip()!r}; say e.g. 3, 3-5, 8- or 1,4-6")
        first = int(match.group(1)) if match.group(1) else 1
        last = (int(match.group(3)) if match.group(3) else count) if match.group(2) else first
        if first > last:
            raise InputError(f"--chapters: {part.strip()!r} runs backwards")
        for n in (first, last):
            if not 1 <= n <= count:
                raise InputError(f"--chapters: there is no chapter {n}; the document has {count} (1-{count})")
        picked.update(range(first, last + 1))
    return sorted(picked)
