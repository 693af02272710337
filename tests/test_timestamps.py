"""Word timestamps: the frontend's word -> ids map, the times the engine derives from the
model's durations (ordering, bounds, a known pause, streams), and captions (SRT/VTT parsed
with standard parsers)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import vocalize
from vocalize import captions
from vocalize.text import Frontend
from vocalize.text.segment import Chunk, ChunkWord
from vocalize.timestamps import ONSET_LEAD, WordTime, chunk_words

SR = 24000


@pytest.fixture(scope="module")
def frontend():
    return Frontend()


# Text -> the written words its chunks' words carry, in order.
WRITTEN = [
    ("Hello, world!", ["Hello,", "world!"]),
    ("It cost $4.5 million.", ["It", "cost", "$4.5", "million."]),
    ("Say [Kokoro](/kˈOkəɹO/) twice.", ["Say", "Kokoro", "twice."]),
    ("We met on 2023-03-14 at noon.", ["We", "met", "on", "2023-03-14", "at", "noon."]),
    ("Great 😀 news!", ["Great", "news!"]),
    ("Dr. Smith arrived [pause:0.5s] at 9am.", ["Dr.", "Smith", "arrived", "at", "9am."]),
]


@pytest.mark.parametrize("text, written", WRITTEN)
def test_each_written_word_is_found_once_in_order(frontend, text, written):
    words = [w for c in frontend.chunks(text) for w in c.words]
    groups: list[tuple[int, str]] = []
    for w in words:
        if not groups or groups[-1][0] != w.group:
            groups.append((w.group, w.written))
    assert [g[1] for g in groups] == written
    assert [g[0] for g in groups] == sorted({g[0] for g in groups})  # each group once, ascending


@pytest.mark.parametrize("text, _", WRITTEN)
def test_a_words_ids_are_its_phonemes_inside_its_chunk(frontend, text, _):
    for chunk in frontend.chunks(text):
        end = 0
        for w in chunk.words:
            assert end <= w.start < w.end <= len(chunk.token_ids)
            end = w.end
            # The ids are speech: no punctuation or space among the first and last.
            ids = chunk.token_ids[w.start : w.end]
            assert frontend.vocab.table[" "] not in (ids[0], ids[-1])


def test_spoken_words_are_the_words_as_read(frontend):
    words = [w.text for c in frontend.chunks("It cost $4.5 million.") for w in c.words]
    assert words == ["It", "cost", "4.5", "million", "dollars."]


def test_raw_phonemes_are_their_own_words(frontend):
    words = [(w.text, w.written) for c in frontend.phoneme_chunks("həlˈO wˈɜɹld!") for w in c.words]
    assert words == [("həlˈO", "həlˈO"), ("wˈɜɹld!", "wˈɜɹld!")]


# -- the engine -------------------------------------------------------------------------------


def assert_well_formed(words: list[WordTime], duration: float) -> None:
    assert words
    for a, b in zip(words, words[1:]):
        assert a.start <= a.end <= b.start <= b.end, (a, b)
    assert words[0].start >= 0.0
    assert words[-1].end <= duration + 1e-9


LONG = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms."
    "\n\nIn 1987 the lamp was automated; the keeper moved to town."
)


def test_words_are_in_order_and_within_the_audio(engine):
    audio = engine.synthesize(LONG, timestamps=True)
    assert len(engine.chunks(LONG)) >= 3
    assert_well_formed(audio.words, audio.duration)
    written = [w.word for w in audio.words]
    assert written[:3] == ["The", "old", "lighthouse"] and written[-1] == "town."
    assert "1987" in written
    # Most of the audio is covered by words (pauses and trimmed margins are not).
    spoken = sum(w.end - w.start for w in audio.words)
    assert 0.6 * audio.duration < spoken < audio.duration


def test_timestamps_do_not_change_the_audio(engine):
    plain = engine.synthesize("Timing changes nothing, said the clock.")
    timed = engine.synthesize("Timing changes nothing, said the clock.", timestamps=True)
    assert plain.words is None
    np.testing.assert_array_equal(plain.samples, timed.samples)


def silence_around(samples: np.ndarray, near: float) -> tuple[float, float]:
    """The silent stretch (10 ms frames under the trimming threshold) holding ``near`` seconds."""
    frame = SR // 100
    loud = np.array([np.abs(samples[i : i + frame]).max() >= 0.005 for i in range(0, len(samples), frame)])
    i = j = int(near * 100)
    assert not loud[i]
    while i > 0 and not loud[i - 1]:
        i -= 1
    while j < len(loud) and not loud[j]:
        j += 1
    return i / 100, j / 100


@pytest.mark.parametrize("speed", [1.0, 1.3])
def test_a_one_second_pause_is_where_the_audio_is_silent(engine, speed):
    audio = engine.synthesize("One. [pause:1s] Two.", timestamps=True, speed=speed)
    one, two = audio.words
    assert (one.word, two.word) == ("One.", "Two.")
    quiet_from, quiet_to = silence_around(audio.samples, (one.end + two.start) / 2)
    assert quiet_to - quiet_from >= 1.0
    # Measured to the 10 ms frames of the silence (and kept to the millisecond).
    assert round(abs(one.end - quiet_from), 3) <= 0.03
    assert round(abs(two.start - quiet_to), 3) <= 0.03


def test_speed_scales_the_times(engine):
    text = "Counting slowly from one to five."
    normal = engine.synthesize(text, timestamps=True).words
    slow = engine.synthesize(text, timestamps=True, speed=0.7).words
    assert [w.word for w in normal] == [w.word for w in slow]
    ratio = (slow[-1].end - slow[0].start) / (normal[-1].end - normal[0].start)
    assert 1.25 < ratio < 1.6


def test_stream_pieces_carry_their_words_timed_from_the_start(engine):
    text = "Hello there. [pause:0.3s] In 1987 the lamp was automated."
    whole = engine.synthesize(text, timestamps=True)
    offset = 0.0
    streamed: list[WordTime] = []
    with engine.stream(text, timestamps=True) as pieces:
        for piece in pieces:
            for w in piece.words:
                assert offset <= w.start <= w.end <= offset + piece.duration + 1e-9
            streamed += piece.words
            offset += piece.duration
    assert streamed == whole.words


def test_spoken_words_can_be_chosen(engine):
    audio = engine.synthesize("It cost $4.5 million.", timestamps=True, words="spoken")
    assert [w.word for w in audio.words] == ["It", "cost", "4.5", "million", "dollars."]
    written = engine.synthesize("It cost $4.5 million.", timestamps=True).words
    assert written[2].word == "$4.5" and written[2].start == audio.words[2].start


@pytest.mark.parametrize(
    "text, words",
    [
        ("[pause:0.5s]", None),  # nothing to speak: an input error, as without timestamps
        ("<break time='300ms'/> Go [pause:1s]", ["Go"]),
        ("😀 Wow 😀", ["Wow"]),
        ("Call 555-0100 at 3:30pm.", ["Call", "555-0100", "at", "3:30pm."]),
        ("[Kokoro](/kˈOkəɹO/) speaks.", ["Kokoro", "speaks."]),
    ],
)
def test_odd_inputs(engine, text, words):
    if words is None:
        with pytest.raises(vocalize.InputError):
            engine.synthesize(text, timestamps=True)
        return
    audio = engine.synthesize(text, timestamps=True)
    assert [w.word for w in audio.words] == words
    assert_well_formed(audio.words, audio.duration)


def test_a_leading_pause_shifts_the_words(engine):
    audio = engine.synthesize("[pause:1s] Late start.", timestamps=True)
    assert 1.0 <= audio.words[0].start < 1.2


def test_a_word_spans_its_own_phonemes_not_the_punctuation_and_space_before_it():
    # "ab, cd": ids a b , space c d; padded: the leading pad (10 frames), then 2, 3, 4, 6, 2, 5,
    # the closing pad. The core cut 4 frames before the chunk's audio.
    words = (ChunkWord("ab,", "ab,", 0, 0, 2), ChunkWord("cd", "cd", 1, 4, 6))
    chunk = Chunk("ab, cd", "ab, cd", (1, 2, 3, 4, 5, 6), 0.0, words)
    spf, lead = 600, round(ONSET_LEAD * SR)
    timed = chunk_words(chunk, [10, 2, 3, 4, 6, 2, 5, 1], 4 * spf, 40 * spf, SR, SR, spf)

    def at(frame: int) -> float:  # the chunk starts 1 s into the audio
        return 1 + (frame * spf - 4 * spf - lead) / SR

    ab, cd = (t[0] for t in timed)
    assert (ab.start, ab.end) == pytest.approx((at(10), at(15)))
    assert (cd.start, cd.end) == pytest.approx((at(25), at(32)))


def test_bad_word_form_is_an_input_error(engine):
    with pytest.raises(vocalize.InputError, match="written, spoken"):
        engine.synthesize("Hi.", timestamps=True, words="phonetic")


def test_a_model_without_durations_says_so(monkeypatch):
    monkeypatch.setenv("VOCALIZE_NO_SPLIT", "1")
    monkeypatch.setenv("VOCALIZE_THREADS", "1")  # another model instance than the shared one
    engine = vocalize.Engine()
    with pytest.raises(vocalize.ModelError, match="not available for this model"):
        engine.synthesize("Hello.", timestamps=True)
    with pytest.raises(vocalize.ModelError, match="not available for this model"):
        engine.stream("Hello.", timestamps=True)
    assert engine.synthesize("Hello.").duration > 0.2  # without timestamps it speaks


# -- captions ---------------------------------------------------------------------------------


def words_of(text: str, gap: float = 0.3, pause_after: dict[int, float] | None = None) -> list[WordTime]:
    out, t = [], 0.0
    for i, word in enumerate(text.split()):
        out.append(WordTime(word, t, t + gap))
        t += gap + 0.05 + (pause_after or {}).get(i, 0.0)
    return out


def test_cues_are_short_and_break_at_punctuation():
    text = (
        "This sentence is long enough that it must be split somewhere, and the split should come "
        "after the comma rather than in the middle of a phrase. Then another sentence starts here."
    )
    cues = captions.cues(words_of(text))
    assert " ".join(c.text for c in cues) == text
    for cue in cues:
        assert len(cue.text) <= captions.MAX_CHARS and cue.end - cue.start <= captions.MAX_SECONDS
    assert [c.text for c in cues][1:3] == ["be split somewhere,", "and the split should come after the comma"]
    assert any(c.text.endswith("phrase.") for c in cues)
    assert cues[-1].text.startswith("Then")


def test_slow_words_break_cues_by_time_and_pauses_break_cues():
    cues = captions.cues(words_of("one two three four five six", gap=1.5))
    assert all(c.end - c.start <= captions.MAX_SECONDS for c in cues) and len(cues) >= 2
    cues = captions.cues(words_of("before the pause after it", pause_after={2: 1.0}))
    assert [c.text for c in cues] == ["before the pause", "after it"]


def test_srt_parses_with_the_srt_package():
    srt = pytest.importorskip("srt")
    words = words_of("Hello, world! This is a caption test, with a few words in it. Bye.")
    subs = list(srt.parse(captions.render(words, "srt")))
    cues = captions.cues(words)
    assert [s.content for s in subs] == [c.text for c in cues]
    assert [s.index for s in subs] == list(range(1, len(cues) + 1))
    for sub, cue in zip(subs, cues):
        assert abs(sub.start.total_seconds() - cue.start) < 0.001 and abs(sub.end.total_seconds() - cue.end) < 0.001


def test_vtt_parses_with_webvtt_py():
    webvtt = pytest.importorskip("webvtt")
    words = words_of("Hello, world! This is a caption test, with a few words in it. Bye.")
    parsed = webvtt.from_buffer(io.StringIO(captions.render(words, "vtt")))
    cues = captions.cues(words)
    assert [c.text for c in parsed] == [c.text for c in cues]
    assert [c.start_time.in_milliseconds() for c in parsed] == [round(c.start * 1000) for c in cues]
    assert [c.end_time.in_milliseconds() for c in parsed] == [round(c.end * 1000) for c in cues]


def test_json_is_the_word_list():
    words = words_of("a b")
    assert json.loads(captions.render(words, "json")) == [{"word": "a", "start": 0.0, "end": 0.3}, {"word": "b", "start": 0.35, "end": 0.65}]


def test_caption_format_comes_from_the_extension(tmp_path):
    assert captions.format_of("x.SRT") == "srt" and captions.format_of("a/b.vtt") == "vtt"
    with pytest.raises(vocalize.InputError, match=".srt, .vtt or .json"):
        captions.format_of("talk.txt")
    with pytest.raises(vocalize.OutputError, match="no folder"):
        captions.check_writable(tmp_path / "missing" / "x.srt")


# -- the command line -------------------------------------------------------------------------

from conftest import read_wav, run_cli  # noqa: E402

SPOKEN = "Captions for a short talk. [pause:1s] They follow every word, even 42 of them!"


def test_speak_writes_srt_captions_beside_the_audio(tmp_path):
    srt = pytest.importorskip("srt")
    wav, subs = tmp_path / "talk.wav", tmp_path / "talk.srt"
    result = run_cli("speak", SPOKEN, "-o", str(wav), "--captions", str(subs))
    assert result.returncode == 0, result.stderr
    duration = len(read_wav(wav)) / SR
    parsed = list(srt.parse(subs.read_text()))
    assert " ".join(s.content for s in parsed) == "Captions for a short talk. They follow every word, even 42 of them!"
    assert parsed[0].content == "Captions for a short talk."  # a sentence and a pause end a cue
    assert all(a.end <= b.start for a, b in zip(parsed, parsed[1:]))
    assert parsed[-1].end.total_seconds() <= duration + 0.001
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_speak_to_stdout_writes_vtt_and_json_captions(tmp_path):
    webvtt = pytest.importorskip("webvtt")
    vtt, raw = tmp_path / "talk.vtt", tmp_path / "talk.json"
    result = run_cli("speak", SPOKEN, "-o", "-", "--captions", str(vtt))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout[:4] == b"RIFF"
    assert [c.text for c in webvtt.read(str(vtt))][0] == "Captions for a short talk."
    result = run_cli("speak", "It cost $4.5 million.", "-o", "-", "--format", "pcm", "--captions", str(raw), "--caption-words", "spoken")
    assert result.returncode == 0, result.stderr.decode()
    words = json.loads(raw.read_text())
    assert [w["word"] for w in words] == ["It", "cost", "4.5", "million", "dollars."]
    assert words[-1]["end"] <= len(result.stdout) / 2 / SR + 0.001


@pytest.mark.parametrize("where", ["missing/talk.srt", "folder.srt"])
def test_unwritable_captions_are_an_error_and_leave_no_audio(tmp_path, where):
    (tmp_path / "folder.srt").mkdir()
    wav = tmp_path / "talk.wav"
    result = run_cli("speak", "Hello.", "-o", str(wav), "--captions", str(tmp_path / where))
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "cannot write captions" in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.srt"]


def test_captions_need_a_known_extension(tmp_path):
    result = run_cli("speak", "Hello.", "-o", str(tmp_path / "a.wav"), "--captions", str(tmp_path / "a.txt"))
    assert result.returncode == 2 and ".srt, .vtt or .json" in result.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_audio_is_not_left_when_the_captions_fail_at_the_end(tmp_path):
    from vocalize.audio import Audio
    from vocalize.cli import write_stream

    def fail() -> None:
        raise vocalize.OutputError("cannot write captions")

    wav = tmp_path / "talk.wav"
    with pytest.raises(vocalize.OutputError):
        write_stream(iter([Audio(np.zeros(2400, dtype=np.float32))]), str(wav), "wav", False, fail)
    assert list(tmp_path.iterdir()) == []
