"""Kokoro phoneme strings -> token ids (the model's ``vocab.json``)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..errors import AssetError

__all__ = ["Vocab", "load_vocab"]

_cache: dict[Path, "Vocab"] = {}
_lock = threading.Lock()


class Vocab:
    """A phoneme-character -> id table. Characters it does not know are dropped, never raised."""

    def __init__(self, table: dict[str, int]):
        if not table:
            raise AssetError("the phoneme vocabulary is empty")
        self.table = dict(table)
        self._known = frozenset(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, char: object) -> bool:
        return char in self._known

    def filter(self, phonemes: str) -> str:
        """``phonemes`` without the characters the model has no id for."""
        known = self._known
        if all(c in known for c in phonemes):
            return phonemes
        return "".join(c for c in phonemes if c in known)

    def encode(self, phonemes: str) -> tuple[int, ...]:
        """Ids of the known characters of ``phonemes``, without padding."""
        table = self.table
        return tuple(table[c] for c in phonemes if c in table)


def load_vocab(path: str | os.PathLike[str] | None = None) -> Vocab:
    """The vocabulary at ``path`` (default: the model's, from :mod:`vocalize.assets`), loaded once."""
    if path is None:
        from ..assets.paths import vocab_path

        path = vocab_path()
    resolved = Path(path).expanduser().resolve()
    with _lock:
        cached = _cache.get(resolved)
    if cached is not None:
        return cached
    vocab = Vocab(_read(resolved))
    with _lock:
        return _cache.setdefault(resolved, vocab)


def _read(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AssetError(f"cannot read the phoneme vocabulary {path}: {e}") from None
    table = data.get("vocab") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and len(k) == 1 and isinstance(v, int) and not isinstance(v, bool) for k, v in table.items()
    ):
        raise AssetError(f"{path} is not a phoneme vocabulary: expected {{\"vocab\": {{character: id, ...}}}}")
    return table
