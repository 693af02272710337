"""The G2P data cache: rebuilt when missing or damaged, same readings either way."""

import subprocess
import sys

import pytest

SCRIPT = """
import sys
from vocalize.text import Frontend
print(Frontend().phonemize("I read the record, then I will record the present."))
print(sorted(m for m in ("numpy", "hibari", "onnxruntime") if m in sys.modules))
"""


def run(cache):
    env = {"VOCALIZE_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("damage", [None, b"", b"\x00garbage", b"\xfb" * 100])
def test_cache_is_built_reused_and_rebuilt(tmp_path, damage):
    first = run(tmp_path)
    files = list(tmp_path.glob("g2p-us-*.marshal"))
    assert len(files) == 1
    if damage is not None:
        files[0].write_bytes(damage)
    second = run(tmp_path)
    assert first == second
    assert first[0] == "ˌI ɹˈɛd ðə ɹˈɛkəɹd, ðˈɛn ˌI wɪl ɹəkˈɔɹd ðə pɹˈɛzᵊnt."
    # The G2P runs without hibari's TTS package or numpy being imported.
    assert first[1] == "[]"
    assert files[0].stat().st_size > 1_000_000


def test_unwritable_cache_still_phonemizes(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    lines = run(blocker / "cache")
    assert lines[0].startswith("ˌI ɹˈɛd")
