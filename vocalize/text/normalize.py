"""Raw text -> clean text for the G2P.

The G2P (hibari) already reads numbers, ordinals, years, decimals, percents, currency, times,
dates, units, titles and common abbreviations. This module handles what comes before it:
Unicode clean-up, whitespace and paragraphs, and the few readings it gets wrong or that make it
slow (URLs, sentence-final ranges and phone numbers, very long digit runs and unbroken runs).
Paragraphs in the result are separated by :data:`PARAGRAPH_BREAK`; nothing else spans lines.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PARAGRAPH_BREAK", "normalize", "normalize_paragraph"]

PARAGRAPH_BREAK = "\n\n"

# Characters the G2P reads itself ("½" -> "one half", "²" -> "squared") but NFKC would flatten.
_KEEP_FROM_NFKC = "½¼¾²³™µ"
# Symbols (category So) the G2P has words for; every other symbol (emoji, dingbats) is dropped.
_SPOKEN_SYMBOLS = frozenset("°©®™")
_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′`´", "'"),
        **dict.fromkeys("“”„‟″«»‹›", '"'),
        **dict.fromkeys("‐‑‒−", "-"),
        **dict.fromkeys("―⸺⸻", "—"),
        "\t": " ",
        "\u2028": "\n",
        "\u2029": "\n\n",
        "\x0b": "\n",
        "\x0c": "\n\n",
        "\u2044": "/",  # fraction slash, from NFKC of "⅓"
    }
)
# Categories removed outright: controls, format (zero-width, bidi), surrogates, private use,
# unassigned, combining marks (variation selectors, zalgo; NFKC already composed accents).
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
# Categories replaced by a space so the words around them stay apart: emoji and other symbols.
_SPACE_CATEGORIES = frozenset({"So", "Sk", "Zs", "Zl", "Zp"})

_NON_ASCII_OR_CONTROL = re.compile(r"[^\x20-\x7e\n]")
_PARAGRAPHS = re.compile(r"\n[ ]*\n\s*")
# A markdown heading or bullet line: its marker is dropped and it becomes a paragraph of its own.
_BLOCK_LINE = re.compile(r"^[ ]*(?:#{1,6}|[-*•+])[ ]+(?=\S)(.*)$", re.M)
_RULE_LINE = re.compile(r"^[ ]*([-*_=])(?:[ ]*\1){2,}[ ]*$", re.M)  # "---": a paragraph break
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.;:!?])")

_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]'}]", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_DOMAIN = re.compile(
    r"\b(?:[A-Za-z0-9-]+\.)+(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz|us|ca|au|tv|ly|ai|dev|app)\b"
    r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)\]'}])?"
)
_ADDRESS_PARTS = re.compile(r"([./@:_?=&#~+%-])")
_ADDRESS_WORDS = {
    ".": "dot", "/": "slash", "@": "at", ":": "colon", "_": "underscore", "?": "question mark",
    "=": "equals", "&": "and", "#": "hash", "~": "tilde", "+": "plus", "%": "percent", "-": "dash",
}
_SCHEME = re.compile(r"^(?:https?|ftp)://", re.I)

MAX_NUMBER_DIGITS = 15  # longer numbers are read digit by digit (the G2P has no words past this)
_NUMBER = re.compile(r"\d+(?:,\d+)*")
_PHONE = re.compile(r"(?<![\w.\-])(?:\d{3}-)?\d{3}-\d{4}(?![\w\-]|\.\d)")
_ORD = r"(?:st|nd|rd|th)?"
_RANGE = re.compile(
    rf"(?<![\w.\-])(\d{{1,4}}{_ORD})\s?[-–]\s?(\d{{1,4}}{_ORD})(?![\w\-]|[.,]\d)"
)
_ABOUT = re.compile(r"~\s?(?=\d)")
_THOUSANDS = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d+)?)k\b")
_DECORATION = re.compile(r"([=*_~#+<>|^])\1{2,}")
_REPEATED_PUNCT = re.compile(r"([!?.,;:…])\1{3,}")
_DASH = re.compile(r"\s*-{2,}\s*|\s+-\s+")
_ETC = re.compile(r"\betc\.(?=[,;:]| [a-z])")

# Unbroken runs longer than this are checked for being slow or unreadable for the G2P.
_LONG_RUN = re.compile(r"\S{20,}")
_RUN_PIECES = re.compile(r"[^\W\d_]+|\d+|[^\w\s]+|_+")
MAX_RUN_PIECES = 16  # hibari's subword search is cubic in the pieces of one unbroken run
MAX_LETTERS = 40  # longer letter runs are cut (no English word is longer; the OOV net reads 24)


def normalize(text: str) -> str:
    """Clean ``text`` for the G2P; paragraphs are joined by :data:`PARAGRAPH_BREAK`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _clean_characters(_nfkc(text))
    if "\n" in text or text.lstrip()[:1] in ("#", "-", "*", "•", "+"):
        text = _BLOCK_LINE.sub(lambda m: f"\n\n{m.group(1)}\n\n", _RULE_LINE.sub("\n", text))
    paragraphs = (normalize_paragraph(p) for p in _PARAGRAPHS.split(text))
    return PARAGRAPH_BREAK.join(p for p in paragraphs if p)


def normalize_paragraph(text: str) -> str:
    """One paragraph: whitespace collapsed to single spaces, then the text rules."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return ""
    text = _URL.sub(_speak_address, text)
    text = _EMAIL.sub(_speak_address, text)
    text = _DOMAIN.sub(_speak_address, text)
    text = _DECORATION.sub(" ", text)
    text = _REPEATED_PUNCT.sub(r"\1\1\1", text)
    text = _NUMBER.sub(_long_number, text)
    text = _LONG_RUN.sub(_break_run, text)
    text = _PHONE.sub(_phone, text)
    text = _RANGE.sub(r"\1 to \2", text)
    text = _DASH.sub(" — ", text)
    text = _ABOUT.sub("about ", text)
    text = _THOUSANDS.sub(r"\1 thousand", text)
    text = _ETC.sub("etc", text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub("", text)


def _nfkc(text: str) -> str:
    """NFKC (full-width forms, ligatures, "℃", "①") except for characters the G2P reads itself."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    parts = re.split(f"([{_KEEP_FROM_NFKC}])", text)
    return "".join(p if len(p) == 1 and p in _KEEP_FROM_NFKC else unicodedata.normalize("NFKC", p) for p in parts)


def _clean_characters(text: str) -> str:
    """Straight quotes and dashes; controls, zero-width marks, emoji and other symbols removed."""
    text = text.translate(_TRANSLATE)
    return _NON_ASCII_OR_CONTROL.sub(_clean_char, text)


def _clean_char(m: re.Match[str]) -> str:
    c = m.group()
    category = unicodedata.category(c)
    if category in _DROP_CATEGORIES:
        return ""
    if category in _SPACE_CATEGORIES and c not in _SPOKEN_SYMBOLS:
        return " "
    return c


def _speak_address(m: re.Match[str]) -> str:
    """"https://www.example.com/a_b" -> "W W W dot example dot com slash a underscore b"."""
    address = _SCHEME.sub("", m.group()).rstrip("/")
    words = []
    for part in _ADDRESS_PARTS.split(address):
        if part in _ADDRESS_WORDS:
            words.append(_ADDRESS_WORDS[part])
        elif part.lower() == "www":
            words.append("W W W")
        elif part:
            words.append(part)
    return " " + " ".join(words) + " "


def _spell_digits(digits: str) -> str:
    """"123456789" -> "1 2 3 4, 5 6 7 8, 9": read digit by digit, in groups of four."""
    groups = (digits[i : i + 4] for i in range(0, len(digits), 4))
    return ", ".join(" ".join(g) for g in groups)


def _long_number(m: re.Match[str]) -> str:
    number = m.group()
    digits = number.replace(",", "")
    if len(digits) <= MAX_NUMBER_DIGITS:
        return number
    return " " + _spell_digits(digits) + " "


def _phone(m: re.Match[str]) -> str:
    return ", ".join(" ".join(group) for group in m.group().split("-"))


def _break_run(m: re.Match[str]) -> str:
    """Split an unbroken run the G2P would be slow on (many pieces) or truncate (huge words)."""
    run = m.group()
    pieces: list[str] = _RUN_PIECES.findall(run)
    if len(pieces) <= MAX_RUN_PIECES and not any(len(p) > MAX_LETTERS for p in pieces):
        return run
    lead = pieces.pop(0) if pieces and not pieces[0][0].isalnum() else ""
    trail = pieces.pop() if pieces and not pieces[-1][0].isalnum() else ""
    words: list[str] = []
    for piece in pieces:
        if piece[0].isalnum():
            words.extend(piece[i : i + MAX_LETTERS // 2] for i in range(0, len(piece), MAX_LETTERS // 2))
    if not words:
        return " "
    return lead + " ".join(words) + trail
