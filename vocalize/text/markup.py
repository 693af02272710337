"""Control markup inside text: explicit pauses.

    [pause:0.5s]   [pause:300ms]   [pause:2]            (seconds when no unit)
    <break time="500ms"/>   <break time="1.5s"/>   <break strength="strong"/>   <break/>

Inline pronunciations, ``[Kokoro](/kˈOkəɹO/)``, are read by the G2P itself. Markup that does
not parse is left in the text and read as text; it never raises.
"""

from __future__ import annotations

import re

# Longest pause one marker may ask for; longer requests are held to this.
MAX_PAUSE = 30.0

# Characters that open markup (a pause, or an inline pronunciation): text is not cut where
# it could fall inside one.
MARKUP_OPENERS = ("[", "<")

# SSML break strengths, in seconds.
STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.0}

_PAUSE = re.compile(
    r"\[pause\s*:\s*(?P<pv>\d+(?:\.\d+)?|\.\d+)\s*(?P<pu>ms|s)?\s*\]"
    r"|<break\b(?P<attrs>[^<>]*?)/?>(?:\s*</break>)?",
    re.IGNORECASE,
)
_TIME = re.compile(r"""\btime\s*=\s*["']?\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)?\s*["']?""", re.IGNORECASE)
_STRENGTH = re.compile(r"""\bstrength\s*=\s*["']?([a-z-]+)""", re.IGNORECASE)


def _seconds(value: str, unit: str | None) -> float:
    seconds = float(value) / 1000 if (unit or "s").lower() == "ms" else float(value)
    return min(seconds, MAX_PAUSE)


def _break_seconds(attrs: str) -> float | None:
    time = _TIME.search(attrs)
    if time:
        return _seconds(time.group(1), time.group(2))
    strength = _STRENGTH.search(attrs)
    if strength:
        return STRENGTHS.get(strength.group(1).lower())
    return None if attrs.strip() else STRENGTHS["medium"]


def split_pauses(text: str) -> list[tuple[str, float | None]]:
    """``text`` cut at pause markers: ``[(text before the marker, pause in seconds)]``, the last
    piece with ``None``. A ``<break>`` whose attributes make no sense stays in the text."""
    pieces: list[tuple[str, float | None]] = []
    start = 0
    for m in _PAUSE.finditer(text):
        if m.group("pv") is not None:
            seconds: float | None = _seconds(m.group("pv"), m.group("pu"))
        else:
            seconds = _break_seconds(m.group("attrs"))
            if seconds is None:
                continue
        pieces.append((text[start : m.start()], seconds))
        start = m.end()
    pieces.append((text[start:], None))
    return pieces
