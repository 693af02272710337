import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

# The suite keeps its own cache (the model's split and optimized graphs are built in it once,
# in a few seconds), so the stand-in models the tests load never land in the user's cache;
# processes the tests start inherit it.
_CACHE = Path(__import__("tempfile").mkdtemp(prefix="vocalize-tests-cache-"))
os.environ["VOCALIZE_CACHE"] = str(_CACHE)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def engine():
    import vocalize

    return vocalize.Engine()


def read_wav(path: Path):
    import numpy as np

    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def run_cli(*args: str, input: bytes | None = None, env: dict | None = None, cwd=None):
    """Runs the installed `vocalize` console script in a new process."""
    exe = shutil.which("vocalize") or sys.executable
    cmd = [exe, *args] if exe != sys.executable else [exe, "-m", "vocalize.cli", *args]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("VOCALIZE_DEBUG", None)
    return subprocess.run(cmd, input=input, capture_output=True, env=full_env, cwd=cwd, timeout=240)


@pytest.fixture(scope="session", autouse=True)
def _only_embedded_assets(tmp_path_factory):
    """Tests see the embedded voices and model only, whatever this machine has downloaded:
    the user voice folder and the Hugging Face cache are empty folders, and the Hub is
    offline (tests that use a stand-in Hub on 127.0.0.1 turn it back on for themselves)."""
    root = tmp_path_factory.mktemp("user-assets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOCALIZE_VOICES_DIR", str(root / "voices"))
        mp.setenv("HF_HOME", str(root / "hf"))
        mp.setenv("HF_HUB_CACHE", str(root / "hf" / "hub"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        # `vocalize speak` would use any server on 127.0.0.1:8880; tests that want one say so.
        mp.setenv("VOCALIZE_SERVER", "off")
        yield


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into, root included (made immutable when the mode does not stop root)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o555)
    immutable = False
    try:
        (folder / "probe").touch()
    except PermissionError:
        pass
    else:  # root ignores the mode; an immutable folder stops root too
        (folder / "probe").unlink()
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot make a folder read-only here")
        immutable = True
    yield folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    os.chmod(folder, 0o755)
