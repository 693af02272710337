"""The ttstokenizer G2P backend: phonemes in Kokoro's alphabet, offline data, clear errors.

Needs ``pip install ttstokenizer`` and NLTK data (``NLTK_DATA``, or ``../shared/nltk_data`` next
to the project); tests that need them are skipped without them. Nothing here may download.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vocalize.errors import AssetError
from vocalize.text import ttstok
from vocalize.text.ttstok import TTSTokenizerG2P, arpabet_to_misaki
from vocalize.text.vocab import load_vocab

ROOT = Path(__file__).resolve().parents[1]


def _nltk_data() -> str | None:
    candidates = [*os.environ.get("NLTK_DATA", "").split(os.pathsep), str(ROOT.parent / "shared" / "nltk_data")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "taggers" / "averaged_perceptron_tagger_eng").is_dir():
            return str(candidate)
    return None


NLTK_DATA = _nltk_data()
HAVE_PACKAGE = importlib.util.find_spec("ttstokenizer") is not None
needs_backend = pytest.mark.skipif(
    not HAVE_PACKAGE or NLTK_DATA is None, reason="ttstokenizer or its NLTK data is not installed"
)


@pytest.fixture(scope="module")
def g2p() -> TTSTokenizerG2P:
    if not HAVE_PACKAGE or NLTK_DATA is None:
        pytest.skip("ttstokenizer or its NLTK data is not installed")
    saved = os.environ.get("NLTK_DATA")
    os.environ["NLTK_DATA"] = NLTK_DATA
    try:
        return TTSTokenizerG2P()
    finally:
        if saved is None:
            del os.environ["NLTK_DATA"]
        else:
            os.environ["NLTK_DATA"] = saved


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **env},
    )


# Spies the child process installs before anything else: any download or socket connect is recorded.
SPIES = """
    import socket, sys
    attempts = []
    def _connect(self, *args, **kwargs):
        attempts.append(("connect", args))
        raise OSError("network disabled in this test")
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect
    socket.create_connection = lambda *a, **k: _connect(None, *a)
"""


# -- ARPABET mapping ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arpabet, expected",
    [
        ("HH AH0 L OW1", "həlˈO"),
        ("W ER1 L D", "wˈɜɹld"),
        ("B ER1 D", "bˈɜɹd"),
        ("B AH1 T ER0", "bˈʌTəɹ"),
        ("W AO1 T ER0", "wˈɔTəɹ"),
        ("L IH1 T AH0 L", "lˈɪTᵊl"),
        ("P IY1 P AH0 L", "pˈipᵊl"),
        ("T AY1 M", "tˈIm"),
        ("D EY1", "dˈA"),
        ("B OY1", "bˈY"),
        ("AW1 T", "ˈWt"),
        ("G OW1", "ɡˈO"),
        ("CH ER1 CH", "ʧˈɜɹʧ"),
        ("JH AH1 JH", "ʤˈʌʤ"),
        ("TH IH1 NG K", "θˈɪŋk"),
        ("M EH1 ZH ER0", "mˈɛʒəɹ"),
        ("Y UW1", "jˈu"),
        ("HH IY1 R", "hˈɪɹ"),
        ("N IY1 D IH0 D", "nˈidᵻd"),
        ("P EY1 JH IH0 Z", "pˈAʤᵻz"),
        ("IH2 N F ER0 M EY1 SH AH0 N", "ˌɪnfəɹmˈAʃᵊn"),
        ("T AH0 D EY1", "tədˈA"),
        ("EH1 F B IY1 AY1", "ˌɛfbˌiˈI"),
    ],
)
def test_arpabet_to_misaki_american(arpabet: str, expected: str) -> None:
    assert arpabet_to_misaki(arpabet.split()) == expected


@pytest.mark.parametrize(
    "arpabet, word, expected",
    [
        ("HH AH0 L OW1", "hello", "həlˈQ"),
        ("DH EH1 R", "there", "ðˈɛː"),
        ("HH IH1 R", "here", "hˈɪə"),
        ("HH AA1 T", "hot", "hˈɒt"),
        ("F AA1 DH ER0", "father", "fˈɑːðə"),
        ("K AA1 R", "car", "kˈɑː"),
        ("M AO1 R", "more", "mˈɔː"),
        ("W AO1 T ER0", "water", "wˈɔːtə"),
        ("B ER1 D", "bird", "bˈɜːd"),
        ("K AE1 T", "cat", "kˈat"),
        ("S IY1", "see", "sˈiː"),
        ("V EH1 R IY0", "very", "vˈɛɹi"),
    ],
)
def test_arpabet_to_misaki_british(arpabet: str, word: str, expected: str) -> None:
    assert arpabet_to_misaki(arpabet.split(), word, british=True) == expected


# -- the backend -------------------------------------------------------------------------------
COMMON_WORDS = (
    "hello world water butter little people mountain computer cat dog house school teacher music river"
    " yesterday different question answer window table chair kitchen morning evening night city country"
    " forest animal flower summer winter street number money letter paper story picture father mother"
    " sister brother friend happy quickly"
).split()


@needs_backend
def test_common_words_match_hibari(g2p: TTSTokenizerG2P) -> None:
    from vocalize.text.g2p import get_g2p

    hibari = get_g2p(False)
    same = [w for w in COMMON_WORDS if g2p(w) == hibari(w)]
    assert len(same) >= 0.9 * len(COMMON_WORDS), sorted(set(COMMON_WORDS) - set(same))
    for word, expected in [("hello", "həlˈO"), ("water", "wˈɔTəɹ"), ("little", "lˈɪTᵊl"), ("mountain", "mˈWntᵊn")]:
        assert g2p(word) == expected


@needs_backend
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, world!", "həlˈO, wˈɜɹld!"),
        ("I refuse to go.", "ˌI ɹɪfjˈuz tə ɡˈO."),
        ("Take out the refuse.", "tˈAk ˈWt ðə ɹˈɛfjˌuz."),
        ("The record is old.", "ðə ɹˈɛkəɹd ɪz ˈOld."),
        ("I object to that.", "ˌI əbʤˈɛkt tə ðæt."),
        ("She has read it.", "ʃˌi hæz ɹˈɛd ɪt."),
        ("Dr. Smith paid $5.", "dˈɑktəɹ smˈɪθ pˈAd fˈIv dˈɑləɹz."),
        ("It is 45% done.", "ɪt ɪz fˈɔɹTi fˈIv pəɹsˈɛnt dˈʌn."),
        ("the FBI", "ði ˌɛfbˌiˈI"),
        ("the car", "ðə kˈɑɹ"),
    ],
)
def test_sentences(g2p: TTSTokenizerG2P, text: str, expected: str) -> None:
    assert g2p(text) == expected


@needs_backend
@pytest.mark.parametrize("british", [False, True])
def test_only_vocab_characters(g2p: TTSTokenizerG2P, british: bool) -> None:
    vocab = set(load_vocab().table)
    backend = TTSTokenizerG2P(british=True) if british else g2p
    text = (
        "The blorptastic snurfle glimbered; “quietly” — at 6:45 PM on March 14th, 2023, Dr. Smith paid "
        "€12.50, £3 and $4.5 million for 45% of Zürich's naïve café... Really?! It's 20°C & rising."
    )
    tokens = backend.tokens(text)
    assert tokens
    for word, phonemes, space in tokens:
        assert isinstance(word, str) and isinstance(phonemes, str) and isinstance(space, bool)
        assert set(phonemes) <= vocab, (word, phonemes, set(phonemes) - vocab)
    assert sum(1 for _, p, _ in tokens if p.strip(';:,.!?—…"“” ')) >= 25


@needs_backend
def test_tokens_shape(g2p: TTSTokenizerG2P) -> None:
    tokens = g2p.tokens("Hello, “world” — it's 5 o'clock.")
    assert [t for t, _, _ in tokens] == ["Hello,", "“world”", "—", "it's", "5", "o'clock."]
    assert [s for _, _, s in tokens] == [True, True, True, True, True, False]
    assert tokens[0][1] == "həlˈO," and tokens[4][1] == "fˈIv" and tokens[-1][1].endswith(".")
    assert g2p.tokens("") == [] and g2p.tokens("   ") == []


@needs_backend
def test_oov_words(g2p: TTSTokenizerG2P) -> None:
    for word in ["blorptastic", "snurfle", "zorbify", "Vexlington"]:
        phonemes = g2p(word)
        assert phonemes and " " not in phonemes and "ˈ" in phonemes
        assert set(phonemes) <= set(load_vocab().table)


# -- offline and errors --------------------------------------------------------------------------
def test_import_is_cheap() -> None:
    code = "import sys, vocalize.text.ttstok; print(sorted(m for m in ('nltk', 'numpy', 'ttstokenizer', 'hibari') if m in sys.modules))"
    out = _run(code, {}).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(importlib.util.find_spec("nltk") is None, reason="nltk is not installed")
def test_missing_data_error_without_network(tmp_path: Path) -> None:
    empty = tmp_path / "nltk_data"
    empty.mkdir()
    code = SPIES + f"""
    import nltk
    nltk.data.path[:] = [{str(empty)!r}]  # no machine-wide nltk_data either
    downloads = []
    nltk.download = lambda *a, **k: downloads.append(a)
    from vocalize.errors import AssetError
    from vocalize.text.ttstok import TTSTokenizerG2P
    try:
        TTSTokenizerG2P()
    except AssetError as e:
        print("ERROR", e)
    print("attempts", attempts, "downloads", downloads, "imported", "ttstokenizer" in sys.modules)
    """
    result = _run(code, {"NLTK_DATA": str(empty), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ERROR ttstokenizer needs NLTK data that is not installed: averaged_perceptron_tagger_eng" in out
    assert "NLTK_DATA" in out
    assert "python -m nltk.downloader averaged_perceptron_tagger_eng cmudict" in out
    assert "attempts [] downloads [] imported False" in out


def test_missing_package_error() -> None:
    code = """
    import sys
    sys.modules["ttstokenizer"] = None
    from vocalize.errors import AssetError
    from vocalize.text.ttstok import TTSTokenizerG2P
    try:
        TTSTokenizerG2P()
    except AssetError as e:
        print("ERROR", e)
    """
    result = _run(code, {})
    assert result.returncode == 0, result.stderr
    assert "ERROR" in result.stdout and "pip install ttstokenizer" in result.stdout


def test_missing_data_error_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nltk = pytest.importorskip("nltk")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setenv("NLTK_DATA", str(tmp_path))
    calls: list[tuple] = []
    monkeypatch.setattr(nltk, "download", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(ttstok, "_loaded", None)  # as in a fresh process
    with pytest.raises(AssetError, match="NLTK_DATA"):
        TTSTokenizerG2P()
    assert calls == []


@needs_backend
def test_building_with_data_never_downloads() -> None:
    code = SPIES + """
    import nltk, nltk.downloader
    downloads = []
    def spy(*a, **k):
        downloads.append(a)
        raise AssertionError("download attempted")
    nltk.download = nltk.downloader.download = spy
    from vocalize.text.ttstok import TTSTokenizerG2P
    g2p = TTSTokenizerG2P()
    print(g2p("Hello world."))
    print("attempts", attempts, "downloads", downloads, "restored", nltk.download is spy)
    """
    result = _run(code, {"NLTK_DATA": str(NLTK_DATA)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["həlˈO wˈɜɹld.", "attempts [] downloads [] restored True"]
