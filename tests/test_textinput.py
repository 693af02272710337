import codecs
import io
import random

import pytest

from vocalize.errors import InputError
from vocalize.textinput import NOT_TEXT, decode_text, read_stdin, read_text_file


def random_bytes(n: int, seed: int = 19, exclude: bytes = b"") -> bytes:
    rng = random.Random(seed)
    pool = [b for b in range(256) if b not in exclude]
    return bytes(rng.choice(pool) for _ in range(n))


PROSE = "The quick brown fox jumps over the lazy dog. Café, naïve, Ærøskøbing; 東京へ行く。\n\nA second paragraph."

ACCEPTED = [
    # (name, bytes, --encoding, text expected, encoding reported, bytes replaced)
    ("utf-8", PROSE.encode(), None, PROSE, "utf-8", 0),
    ("utf-8 with BOM", codecs.BOM_UTF8 + PROSE.encode(), None, PROSE, "utf-8", 0),
    ("utf-8 BOM, --encoding utf-8", codecs.BOM_UTF8 + b"Hello.", "utf-8", "Hello.", "utf-8", 0),
    ("utf-16 LE with BOM", PROSE.encode("utf-16"), None, PROSE, "utf-16", 0),
    ("utf-16 BE with BOM", codecs.BOM_UTF16_BE + PROSE.encode("utf-16-be"), None, PROSE, "utf-16", 0),
    ("utf-32 with BOM", PROSE.encode("utf-32"), None, PROSE, "utf-32", 0),
    ("utf-16-le, no BOM, --encoding", PROSE.encode("utf-16-le"), "utf-16-le", PROSE, "utf-16-le", 0),
    ("latin-1 with --encoding", "Déjà vu à Noël, garçon.".encode("latin-1"), "latin-1", "Déjà vu à Noël, garçon.", "iso8859-1", 0),
    ("cp1252 quotes", "“Quoted” — dash.".encode("cp1252"), "cp1252", "“Quoted” — dash.", "cp1252", 0),
    ("shift_jis", "東京へ行く。".encode("shift_jis"), "shift_jis", "東京へ行く。", "shift-jis", 0),
    ("crlf and cr newlines", b"one\r\ntwo\rthree\n", None, "one\ntwo\nthree\n", "utf-8", 0),
    ("tabs and form feeds", b"a\tb\fc\n", None, "a\tb\fc\n", "utf-8", 0),
    ("a few stray invalid bytes", b"Caf\xe9 au lait. " * 1 + b"Long enough text here to carry two more bad bytes \xff\xfe.",
     None, "Caf\ufffd au lait. Long enough text here to carry two more bad bytes \ufffd\ufffd.", "utf-8", 3),
    ("one stray byte in a long text", PROSE.encode()[:40] + b"\x80" + PROSE.encode()[40:], None,
     PROSE[:40] + "\ufffd" + PROSE[40:], "utf-8", 1),
    ("empty", b"", None, "", "utf-8", 0),
]


@pytest.mark.parametrize("name, data, encoding, text, codec, replaced", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_text_is_decoded(name, data, encoding, text, codec, replaced):
    decoded = decode_text(data, encoding)
    assert decoded.text == text
    assert decoded.encoding == codec
    assert decoded.replaced == replaced


REFUSED = [
    # (name, bytes, --encoding, words the reason must contain)
    ("head -c 3000 /dev/urandom", random_bytes(3000), None, "NUL bytes"),
    ("random bytes without NUL", random_bytes(3000, exclude=b"\x00"), None, "bytes are not valid UTF-8"),
    ("random bytes as latin-1", random_bytes(3000, exclude=b"\x00"), "latin-1", "control characters"),
    ("a PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random_bytes(200), None, "a PNG image"),
    ("a ZIP", b"PK\x03\x04\x14\x00\x00\x00" + random_bytes(200), None, "a ZIP archive"),
    ("a PDF with binary streams", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + random_bytes(500, exclude=b"\x00"), None, "a PDF document"),
    ("utf-16 without BOM", PROSE.encode("utf-16-le"), None, "--encoding utf-16-le"),
    ("latin-1 read as utf-8", ("Déjà vu à Noël, garçon. " * 10).encode("latin-1"), None, "give its --encoding"),
    ("a NUL in text", b"Hello\x00 world.", None, "NUL bytes"),
    ("escape sequences", b"\x1b[31mred\x1b[0m \x1b[1mbold\x1b[0m \x07\x07\x07\x07", None, "control characters"),
]


@pytest.mark.parametrize("name, data, encoding, reason", REFUSED, ids=[c[0] for c in REFUSED])
def test_what_is_not_text_is_refused(name, data, encoding, reason):
    with pytest.raises(InputError) as e:
        decode_text(data, encoding)
    message = str(e.value)
    assert message.startswith(f"{NOT_TEXT}: ")
    assert reason in message
    assert "\n" not in message


def test_an_unknown_encoding_is_named():
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        decode_text(b"Hello.", "klingon")


def test_files_are_read_and_named_in_errors(tmp_path):
    good = tmp_path / "chapter.txt"
    good.write_bytes("Une œuvre complète.".encode("cp1252"))
    assert read_text_file(good, "cp1252").text == "Une œuvre complète."
    binary = tmp_path / "noise.bin"
    binary.write_bytes(random_bytes(3000, seed=7))
    with pytest.raises(InputError, match=rf"{NOT_TEXT}: .*noise.bin: it holds NUL bytes"):
        read_text_file(binary)
    with pytest.raises(InputError, match="no such file"):
        read_text_file(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="is a folder"):
        read_text_file(tmp_path)


def test_stdin_is_decoded():
    assert read_stdin(io.BytesIO(codecs.BOM_UTF8 + "Grüße.".encode())).text == "Grüße."
    with pytest.raises(InputError, match=NOT_TEXT):
        read_stdin(io.BytesIO(random_bytes(3000, seed=3)))
