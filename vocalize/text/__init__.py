"""English text frontend: raw text -> normalized sentences -> Kokoro phonemes -> token-id chunks.

    >>> from vocalize.text import Frontend
    >>> [c.phonemes for c in Frontend().chunks("Hello, world!")]
    ['həlˈO, wˈɜɹld!']

Importing this package is cheap; the G2P (hibari) loads when a Frontend first phonemizes.
"""

from .frontend import Frontend
from .segment import Chunk

__all__ = ["Frontend", "Chunk"]
