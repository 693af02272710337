"""The tiny tier in the native core: hibari's model and a Rust vocoder, against hibari's own
numpy pipeline on the same phoneme ids."""

import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest

from vocalize import _native
from vocalize.assets import paths
from vocalize.errors import InputError, ModelError

SENTENCES = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore, and nobody minds.",
    "On the third of March, twelve hundred people paid nine dollars each to hear it read aloud.",
    "Why would anyone keep a lighthouse on a hill so far from the water?",
]


def hibari_model_path() -> Path:
    spec = importlib.util.find_spec("hibari")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "assets" / "hibari.onnx"


@pytest.fixture(scope="module")
def tiny():
    _native.init(str(paths.ort_library()))
    return _native.load_tiny(str(hibari_model_path()), threads=1)


@pytest.fixture(scope="module")
def hibari():
    from hibari import Hibari

    return Hibari(threads=1)


class NoNoise:
    """A stand-in for hibari's numpy Generator that draws zeros: its noise branch off."""

    def standard_normal(self, shape, dtype):
        return np.zeros(shape, dtype)


def ids_of(hibari, text: str) -> list[int]:
    """hibari's phoneme ids for a one-sentence text, without the pads."""
    (phonemes,) = hibari.phonemize(text)
    return hibari.ids(phonemes)[1:-1]


def signal_to_difference_db(reference: np.ndarray, other: np.ndarray) -> float:
    reference, other = reference.astype(np.float64), other.astype(np.float64)
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - other) ** 2)))


@pytest.mark.parametrize("text", SENTENCES)
def test_without_noise_the_audio_is_hibaris(tiny, hibari, text):
    ids = ids_of(hibari, text)
    reference = hibari.from_ids([0, *ids, 0], 1.0, NoNoise())
    audio = tiny.render(ids, 1.0, noise=False)
    assert audio.dtype == np.float32 and audio.shape == reference.shape
    assert signal_to_difference_db(reference, audio) >= 40.0


@pytest.mark.parametrize("speed", [0.7, 1.3])
def test_speed_changes_the_audio_as_hibari_does(tiny, hibari, speed):
    ids = ids_of(hibari, SENTENCES[1])
    reference = hibari.from_ids([0, *ids, 0], speed, NoNoise())
    audio = tiny.render(ids, speed, noise=False)
    assert audio.shape == reference.shape
    assert audio.shape != tiny.render(ids, 1.0, noise=False).shape
    assert signal_to_difference_db(reference, audio) >= 40.0


def test_a_seed_repeats_bit_for_bit_and_other_seeds_differ(tiny, hibari):
    ids = ids_of(hibari, SENTENCES[2])
    first = tiny.render(ids, 1.0, seed=11)
    again = tiny.render(ids, 1.0, seed=11)
    other = tiny.render(ids, 1.0, seed=12)
    unseeded = [tiny.render(ids, 1.0) for _ in range(2)]
    assert first.tobytes() == again.tobytes()
    assert not np.array_equal(first, other)
    assert not np.array_equal(*unseeded)
    noiseless = tiny.render(ids, 1.0, noise=False)
    reference = hibari.from_ids([0, *ids, 0], 1.0, np.random.default_rng(11))
    assert first.shape == other.shape == noiseless.shape == reference.shape
    assert not np.array_equal(first, noiseless)


def band_energies(x: np.ndarray, edges_hz=(0, 1000, 4000, 8000, 12000)) -> np.ndarray:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / 24000)
    return np.array([power[(hz >= lo) & (hz < hi)].sum() for lo, hi in zip(edges_hz, edges_hz[1:])])


def test_the_noise_branch_is_shaped_as_hibaris(tiny, hibari):
    # The noise term is linear in the random draws: with noise minus without is the noise
    # alone. Its energy per band matches hibari's within 1.5 dB over a few draws (seeded
    # on both sides; the spread between draws is under 1 dB here), so it is shaped by the
    # same exp(ln) at the same variance; the generators differ, so the samples do.
    ids = ids_of(hibari, SENTENCES[3])
    ours_clean = tiny.render(ids, 1.0, noise=False)
    theirs_clean = hibari.from_ids([0, *ids, 0], 1.0, NoNoise())
    ours = sum(band_energies(tiny.render(ids, 1.0, seed=s) - ours_clean) for s in range(4))
    theirs = sum(
        band_energies(hibari.from_ids([0, *ids, 0], 1.0, np.random.default_rng(s)) - theirs_clean) for s in range(4)
    )
    assert np.all(ours > 0)
    np.testing.assert_allclose(10 * np.log10(ours / theirs), 0.0, atol=1.5)


def test_synthesis_releases_the_gil(tiny, hibari):
    ids = ids_of(hibari, SENTENCES[3]) * 3
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        tiny.render(ids, 1.0, seed=1)
    finally:
        done.set()
        counter.join()
    assert ticks > 10_000, ticks


@pytest.mark.parametrize(
    ("ids", "speed", "message"),
    [
        ([], 1.0, "1 to 510 phoneme ids, got 0"),
        ([16] * 511, 1.0, "got 511"),
        ([50, 178, 54], 1.0, "phoneme id 178 is outside the vocabulary"),
        ([-3], 1.0, "phoneme id -3"),
        ([50, 83], 0.0, "speed must be positive"),
        ([50, 83], -1.0, "speed must be positive"),
        ([50, 83], float("nan"), "speed must be positive"),
        ([50, 83], float("inf"), "speed must be positive"),
    ],
)
def test_bad_requests_are_one_input_error(tiny, ids, speed, message):
    with pytest.raises(InputError, match=message):
        tiny.render(ids, speed, seed=1)
    # The model is still there for the next request.
    assert tiny.render([50, 83, 54], 1.0, seed=1).size > 0


def test_a_truncated_model_file_is_a_model_error(tmp_path):
    _native.init(str(paths.ort_library()))
    truncated = tmp_path / "hibari.onnx"
    truncated.write_bytes(hibari_model_path().read_bytes()[: 3_000_000])
    with pytest.raises(ModelError, match=str(truncated)):
        _native.load_tiny(str(truncated))


def test_a_corrupt_or_missing_model_file_is_a_model_error(tmp_path):
    _native.init(str(paths.ort_library()))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07" + bytes(range(256)) * 100)
    with pytest.raises(ModelError, match="garbage.onnx"):
        _native.load_tiny(str(garbage))
    with pytest.raises(ModelError, match="no such file"):
        _native.load_tiny(str(tmp_path / "absent.onnx"))


def test_another_onnx_model_is_not_taken_for_the_tiny_one():
    # hibari's own spelling-to-sound network: a valid ONNX file with other inputs.
    _native.init(str(paths.ort_library()))
    other = hibari_model_path().with_name("oov.onnx")
    with pytest.raises(ModelError, match="not a tiny model"):
        _native.load_tiny(str(other))


def test_the_model_says_what_it_is(tiny):
    assert tiny.path == str(hibari_model_path())
    assert (tiny.threads, tiny.sessions) == (1, 1)
    assert "TinyModel" in repr(tiny)
