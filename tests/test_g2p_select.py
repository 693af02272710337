"""Choosing the English G2P: hibari (default) or ttstokenizer, from the API and the CLI."""

import os
from pathlib import Path

import pytest

import vocalize
from conftest import run_cli

# NLTK's tagger data: NLTK_DATA, else the shared folder beside the repo.
NLTK_DATA = Path(os.environ.get("NLTK_DATA") or Path(__file__).resolve().parents[2] / "shared" / "nltk_data")
needs_nltk_data = pytest.mark.skipif(not NLTK_DATA.is_dir(), reason=f"no NLTK data at {NLTK_DATA} (set NLTK_DATA)")


@needs_nltk_data
def test_ttstokenizer_from_the_api(monkeypatch):
    monkeypatch.setenv("NLTK_DATA", str(NLTK_DATA))
    engine = vocalize.Engine(g2p="ttstokenizer", voice_lang="en-us")
    chunks = engine.chunks("I read the book yesterday.")
    assert chunks[0].phonemes.startswith("ˌI ɹˈid")
    assert engine.synthesize("Hello there.").duration > 0.5


@needs_nltk_data
def test_ttstokenizer_from_the_cli(tmp_path):
    result = run_cli("phonemize", "--g2p", "ttstokenizer", "The cat sat.", env={"NLTK_DATA": str(NLTK_DATA)})
    assert result.returncode == 0, result.stderr
    assert "kˈæt" in result.stdout.decode()
    out = tmp_path / "t.wav"
    result = run_cli("speak", "--g2p", "ttstokenizer", "The cat sat.", "-o", str(out), env={"NLTK_DATA": str(NLTK_DATA)})
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10000


def test_missing_nltk_data_says_how_to_fix_it(tmp_path):
    result = run_cli("speak", "--g2p", "ttstokenizer", "Hi", "-o", str(tmp_path / "x.wav"), env={"NLTK_DATA": str(tmp_path)})
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "NLTK_DATA" in err and "nltk.downloader" in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_unknown_g2p():
    with pytest.raises(vocalize.InputError, match="hibari"):
        vocalize.Engine(g2p="espeak")
    result = run_cli("speak", "--g2p", "espeak", "Hi", "-o", "x.wav")
    assert result.returncode == 2
