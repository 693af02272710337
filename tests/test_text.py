"""The English text frontend: normalization, sentence splitting, G2P, vocab ids and chunking."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest

import vocalize

from vocalize.errors import AssetError, InputError
from vocalize.text import Chunk, Frontend
from vocalize.text.frontend import MERGE_TARGET, SENTENCE_MAX
from vocalize.text.g2p import get_g2p
from vocalize.text.normalize import normalize
from vocalize.text.segment import PAUSES, Word, join_phonemes, pack_words, split_long_text, split_sentences
from vocalize.text.vocab import Vocab, load_vocab


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend()


def _prose(n_chars: int, seed: int = 0) -> str:
    """Plain English-looking prose with commas, sentences and paragraphs."""
    rng = random.Random(seed)
    vocab = (
        "the quick brown fox jumps over a lazy dog and then runs into the forest where many strange "
        "animals live together under tall trees while rivers flow quietly past old stone bridges"
    ).split()
    parts, size = [], 0
    while size < n_chars:
        words = [rng.choice(vocab) for _ in range(rng.randint(4, 30))]
        if len(words) > 8:
            words[rng.randint(2, len(words) - 3)] += ","
        sentence = " ".join(words).capitalize() + rng.choice(".!?.")
        parts.append(sentence + ("\n\n" if rng.random() < 0.15 else " "))
        size += len(parts[-1])
    return "".join(parts)


def _letters_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z']+", text.lower())


def _check_chunks(chunks: list[Chunk], max_tokens: int) -> None:
    assert chunks
    for c in chunks:
        assert isinstance(c, Chunk)
        assert 1 <= len(c.token_ids) <= max_tokens
        assert c.phonemes and c.phonemes == c.phonemes.strip()
        assert c.text.strip()
        assert 0 not in c.token_ids
        assert c.pause_after >= 0
    assert chunks[-1].pause_after == 0.0


# -- normalization ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("It’s “quoted”", "It's \"quoted\""),
        ("Hello 😀 world", "Hello world"),
        ("Great 👍🏽!", "Great!"),
        ("I ❤ you", "I you"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("a\tb\x00c\x07", "a bc"),
        ("h̷e̷l̷l̷o̷", "hello"),
        ("ﬁne １２３", "fine 123"),
        ("25℃", "25°C"),
        ("½ cup, x²", "½ cup, x²"),
        ("−5 °C", "-5 °C"),
        ("line one\nline two", "line one line two"),
        ("para one\n\n\n  para two\r\n\r\nthree", "para one\n\npara two\n\nthree"),
        ("  lots   of \t space  ", "lots of space"),
        ("Pages 5-10.", "Pages 5 to 10."),
        ("1st–3rd place", "1st to 3rd place"),
        ("5-10% of them", "5 to 10% of them"),
        ("2023-05-01", "2023-05-01"),
        ("Call 555-123-4567.", "Call 5 5 5, 1 2 3, 4 5 6 7."),
        ("Hmm -- okay", "Hmm — okay"),
        ("Hmm - okay", "Hmm — okay"),
        ("~50 people", "about 50 people"),
        ("100k users", "100 thousand users"),
        ("apples, etc. and pears", "apples, etc and pears"),
        ("Wait!!!!!!", "Wait!!!"),
        ("=====", ""),
        ("see https://www.example.com/a_b.", "see W W W dot example dot com slash a underscore b."),
        ("mail bob@example.org now", "mail bob at example dot org now"),
        ("12345678901234567", "1 2 3 4, 5 6 7 8, 9 0 1 2, 3 4 5 6, 7"),
        ("123456789012345", "123456789012345"),
        ("3.14 and -7", "3.14 and -7"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["x" + "ab.c-" * 400, "a1b2" * 500, "q" * 5000])
def test_normalize_breaks_unbroken_runs(raw: str) -> None:
    runs = normalize(raw).split()
    assert len(runs) > 1
    assert max(len(r) for r in runs) <= 40


# -- sentences -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "paragraph, sentences",
    [
        ("Dr. Smith arrived. He sat down.", ["Dr. Smith arrived.", "He sat down."]),
        ("Fruits, e.g. apples. Nice!", ["Fruits, e.g. apples.", "Nice!"]),
        ("Pi is 3.14 exactly. Yes.", ["Pi is 3.14 exactly.", "Yes."]),
        ("J. K. Rowling wrote it. Really?", ["J. K. Rowling wrote it.", "Really?"]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Wait... what? No!", ["Wait... what?", "No!"]),
        ("See No. 5 for details. Ok.", ["See No. 5 for details.", "Ok."]),
        ("Vol. II of the Library. Ch. XII next.", ["Vol. II of the Library.", "Ch. XII next."]),
        ("He said No. I left.", ["He said No.", "I left."]),
        ("Mr. and Mrs. Jones. So did I. Fine", ["Mr. and Mrs. Jones.", "So did I.", "Fine"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("It is in Room B. Then go.", ["It is in Room B.", "Then go."]),  # initials, then an opener
        ("We met at 10 a.m. It rained.", ["We met at 10 a.m.", "It rained."]),
        ("He was born in the U.S. He left.", ["He was born in the U.S.", "He left."]),
        ("The U.S. Army left.", ["The U.S. Army left."]),
        ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
    ],
)
def test_split_sentences(paragraph: str, sentences: list[str]) -> None:
    assert split_sentences(paragraph) == sentences


@pytest.mark.parametrize("text", ["word " * 700, "a, " * 900 + "end", "x" * 2500])
def test_split_long_text(text: str) -> None:
    pieces = split_long_text(text, 1000)
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


# -- phonemes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, world!", "həlˈO, wˈɜɹld!"),
        ("I read the book yesterday.", "ˌI ɹˈɛd ðə bˈʊk jˈɛstəɹdˌA."),
        ("I will read it tomorrow.", "ˌI wɪl ɹˈid ɪt təmˈɑɹO."),
        ("Read the record; record it.", "ɹˈid ðə ɹˈɛkəɹd; ɹəkˈɔɹd ɪt."),
        ("1,000 people", "wˈʌn θˈWzᵊnd pˈipᵊl"),
        ("in 2023", "ɪn twˈɛnti twˈɛnti θɹˈi"),
        ("Pages 5-10.", "pˈAʤᵻz fˈIv tə tˈɛn."),
        ("3.14", "θɹˈi pYnt wˈʌn fˈɔɹ"),
        ("-7", "mˈInəs sˈɛvən"),
        ("1st and 2nd", "fˈɜɹst ænd sˈɛkənd"),
        ("It costs $4.5 million.", "ˌɪt kˈɔsts fˈɔɹ pYnt fˈIv mˈɪljᵊn dˈɑləɹz."),
    ],
)
def test_phonemes(frontend: Frontend, text: str, expected: str) -> None:
    assert frontend.phonemize(text) == expected


def test_british() -> None:
    assert Frontend("en-GB").phonemize("Hello there.") == "həlˈQ ðˈɛː."


@pytest.mark.parametrize("text", ["Hello, world! How are you today?", "Dr. Smith paid $4.5 million in 2023."])
def test_phonemize_matches_hibari(frontend: Frontend, text: str) -> None:
    assert frontend.phonemize(text) == get_g2p(False)(text)


def test_g2p_shared_per_process(frontend: Frontend) -> None:
    assert get_g2p(False) is get_g2p(False)
    assert Frontend().chunks("One more.")[0].phonemes == frontend.chunks("One more.")[0].phonemes


def test_import_is_light() -> None:
    code = "import sys, vocalize.text; print([m for m in ('numpy', 'hibari', 'onnxruntime') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- vocab -----------------------------------------------------------------------------------
def test_vocab_encode(frontend: Frontend) -> None:
    vocab = load_vocab()
    assert len(vocab) == 114 and vocab is load_vocab()
    assert vocab.encode("həlˈO") == tuple(vocab.table[c] for c in "həlˈO")
    assert vocab.encode("a\u4e00b") == (vocab.table["a"], vocab.table["b"])
    assert vocab.filter("a\u4e00b") == "ab"
    chunk = frontend.chunks("Hello, world!")[0]
    assert chunk.token_ids == vocab.encode(chunk.phonemes)
    assert len(chunk.token_ids) == len(chunk.phonemes)


def test_vocab_path_and_unknown_phonemes(tmp_path) -> None:
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"vocab": {c: i + 1 for i, c in enumerate(" .,həlOˈwɜɹd")}}), encoding="utf-8")
    chunks = Frontend(vocab_path=path).chunks("Hello, world. Yes!")
    assert all(set(c.phonemes) <= set(" .,həlOˈwɜɹd") for c in chunks)
    assert chunks[0].phonemes.startswith("həlˈO, wˈɜɹld.")


@pytest.mark.parametrize("content", [None, "not json", '{"vocab": []}', '{"other": {}}'])
def test_vocab_errors(tmp_path, content: str | None) -> None:
    path = tmp_path / "vocab.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AssetError):
        load_vocab(path)


# -- chunking --------------------------------------------------------------------------------
PROSE_SAMPLES = [
    "Hello, world! How are you today?",
    "The cat sat on the mat, and the dog, which was brown, lay by the door; nobody moved. Then it rained.",
    "First paragraph, short.\n\nSecond paragraph: longer, with clauses — and a dash.\n\nThird!",
    "word " * 600,
    _prose(5000, seed=1),
]


@pytest.mark.parametrize("max_tokens", [20, 64, 510])
@pytest.mark.parametrize("text", PROSE_SAMPLES, ids=[f"sample{i}" for i in range(len(PROSE_SAMPLES))])
def test_chunk_invariants(frontend: Frontend, text: str, max_tokens: int) -> None:
    chunks = frontend.chunks(text, max_tokens=max_tokens)
    _check_chunks(chunks, max_tokens)
    # Every word is kept, in order, in both the texts and the phonemes.
    assert _letters_words(" ".join(c.text for c in chunks)) == _letters_words(normalize(text))
    spoken = "".join(c.phonemes for c in chunks).replace(" ", "")
    assert spoken == frontend.phonemize(text).replace(" ", "")


def test_short_sentences_merge(frontend: Frontend) -> None:
    text = " ".join(f"Sentence number {i} is short." for i in range(40))
    chunks = frontend.chunks(text)
    assert 1 < len(chunks) < 40
    assert all(len(c.token_ids) <= MERGE_TARGET for c in chunks)
    assert all(c.pause_after == PAUSES["sentence"] for c in chunks[:-1])


def test_pauses_order(frontend: Frontend) -> None:
    assert PAUSES["word"] < PAUSES["clause"] < PAUSES["sentence"] < PAUSES["paragraph"]
    text = (
        "The first clause of this sentence runs on and on for a while, "
        "and the second clause of the same sentence keeps going. "
        "Another sentence follows it here, long enough not to be merged.\n\nNew paragraph here."
    )
    chunks = frontend.chunks(text, max_tokens=80)
    assert [(c.text[-1], c.pause_after) for c in chunks] == [
        (",", PAUSES["clause"]),
        (".", PAUSES["sentence"]),
        (".", PAUSES["paragraph"]),
        (".", 0.0),
    ]


def _has_clause_break(phonemes: str) -> bool:
    return any(mark in phonemes[:-1] for mark in ",;:—…")


def test_a_short_first_chunk_ends_at_a_clause_never_inside_a_phrase(frontend: Frontend) -> None:
    """A phrase cut for an early start is misheard ("a permit | to park" as "the park"):
    the short first chunk ends at a clause break, or the sentence is not cut."""
    chunks = frontend.chunks("You need a permit to park on this street after six.", first_chunk_max=20)
    assert [c.text for c in chunks] == ["You need a permit to park on this street after six."]
    chunks = frontend.chunks("Careful, you might tear the map if you fold it that way.", first_chunk_max=20)
    assert [c.text for c in chunks] == ["Careful,", "you might tear the map if you fold it that way."]


@pytest.mark.parametrize("first_chunk_max", [8, 30, 100])
def test_first_chunk_max(frontend: Frontend, first_chunk_max: int) -> None:
    text = _prose(3000, seed=2)
    chunks = frontend.chunks(text, max_tokens=200, first_chunk_max=first_chunk_max)
    _check_chunks(chunks, 200)
    first = chunks[0]
    # Short, or as long as it must be: no clause break within the first chunk's bound.
    assert len(first.token_ids) <= first_chunk_max or not _has_clause_break(first.phonemes[:first_chunk_max])
    assert _letters_words(" ".join(c.text for c in chunks)) == _letters_words(normalize(text))


@pytest.mark.parametrize("seed", [2, 5])
def test_chunks_ramp_up_from_a_short_first_one(frontend: Frontend, seed: int) -> None:
    """Each chunk after a short first one is at most twice as long as the cap before it, so
    it is synthesized while the previous one plays; none exceeds the sentence bound."""
    text = _prose(2000, seed=seed)
    chunks = frontend.chunks(text, first_chunk_max=20)
    caps = [min(SENTENCE_MAX, (20 << i) * 3 // 2) for i in range(len(chunks))]  # a scrap may join
    for chunk, cap in zip(chunks, caps):
        # A chunk over its cap has no clause break within it: short pieces end only at one.
        assert len(chunk.token_ids) <= cap or not _has_clause_break(chunk.phonemes[: cap * 2 // 3]), (chunk, cap)
    assert all(len(c.token_ids) <= SENTENCE_MAX for c in chunks)
    assert _letters_words(" ".join(c.text for c in chunks)) == _letters_words(normalize(text))


def test_a_long_sentence_is_cut_within_the_bound(frontend: Frontend) -> None:
    text = "The committee, after a long debate that lasted well into the night, " * 6 + "finally voted."
    chunks = frontend.chunks(text)
    assert len(chunks) > 1
    assert all(len(c.token_ids) <= SENTENCE_MAX for c in chunks)
    assert all(c.text.endswith(",") for c in chunks[:-1])  # cut at clause breaks


def _plain_words(text: str) -> list[Word]:
    words = [Word(w, w, True) for w in text.split()]
    words[-1].space_after = False
    return words


def test_a_sentence_for_two_chunks_is_cut_before_a_conjunction_not_into_a_scrap() -> None:
    text = "many ships passed slowly near the harbor and their crews waved to the people on shore today"
    # Greedy filling to 60 would end the first group at "to the" and leave a scrap.
    groups = [join_phonemes(g) for g in pack_words(_plain_words(text), 60)]
    assert groups == ["many ships passed slowly near the harbor", "and their crews waved to the people on shore today"]


def test_clause_punctuation_beats_a_conjunction_for_the_cut() -> None:
    text = "many ships passed near the harbor and then the bay, their crews waved to the people on shore"
    groups = [join_phonemes(g) for g in pack_words(_plain_words(text), 60)]
    assert groups[0].endswith("bay,") and len(groups) == 2


def test_without_a_phrase_break_the_greedy_cut_stands_unless_it_leaves_a_scrap() -> None:
    words = _plain_words(" ".join(["word"] * 20))  # 99 characters, no punctuation, no phrases
    assert [len(join_phonemes(g)) for g in pack_words(words, 60)] == [59, 39]
    words = _plain_words(" ".join(["word"] * 14))  # 69: greedy would leave "word word"
    assert [len(join_phonemes(g)) for g in pack_words(words, 60)] == [34, 34]


def test_short_groups_end_at_clause_breaks_else_the_sentence_is_cut_as_any_long_one() -> None:
    """A short first group ends only at a clause break; with none in reach the sentence is
    cut as a long one is, at the best phrase break near the middle, never after "his"."""
    words = _plain_words("every student in the class was asked to write a short story about a journey they had taken")
    assert [join_phonemes(g) for g in pack_words(words, 60, 20)] == [
        "every student in the class was asked", "to write a short story about a journey they had taken",
    ]
    words = _plain_words("thomas lost his wallet on the bus this morning and a kind stranger returned it")
    assert [join_phonemes(g) for g in pack_words(words, 60, 20)] == [
        "thomas lost his wallet on the bus this morning", "and a kind stranger returned it",
    ]
    words = _plain_words("well, every student in the class was asked to write a short story, about a journey")
    assert [join_phonemes(g) for g in pack_words(words, 60, 20)] == [
        "well,", "every student in the class was asked", "to write a short story, about a journey",
    ]


def test_long_word_is_cut_not_dropped() -> None:
    words = [Word("a", "x" * 50, True), Word("b", "yy", False)]
    groups = pack_words(words, 20)
    assert [join_phonemes(g) for g in groups] == ["x" * 20, "x" * 20, "x" * 10 + " yy"]
    assert "".join(w.phonemes for g in groups for w in g) == "x" * 50 + "yy"


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, message",
    [
        ("", "text is empty"),
        ("   \n\t  ", "text is empty"),
        ("😀🎉", "nothing to speak in the given text"),
        ("!!! ... ???", "nothing to speak in the given text"),
        ("\u200b\x00\x07", "nothing to speak in the given text"),
        ("-----\n\n*****", "nothing to speak in the given text"),
    ],
)
def test_nothing_to_speak(frontend: Frontend, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        frontend.chunks(text)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("lang", ["fr", "de-de", "", "english"])
def test_unsupported_language(lang: str) -> None:
    with pytest.raises(InputError, match="en-us"):
        Frontend(lang)


@pytest.mark.parametrize("kwargs", [{"max_tokens": 0}, {"max_tokens": -5}, {"first_chunk_max": 0}])
def test_bad_limits(frontend: Frontend, kwargs: dict) -> None:
    with pytest.raises(InputError):
        frontend.chunks("Hello.", **kwargs)


def test_not_a_string(frontend: Frontend) -> None:
    with pytest.raises(InputError):
        frontend.chunks(b"bytes")  # type: ignore[arg-type]


# -- robustness ------------------------------------------------------------------------------
ROBUST_TEXTS = [
    "Ça va? 😀 Great 👍🏽! naïve café résumé",
    "日本語のテキスト and English",
    "Привет мир, hello",
    "".join(chr(c) for c in range(0, 0x3000, 7)) + " end",
    "Visit https://example.com/" + "a/b_" * 300 + " today.",
    "$" + "9" * 40 + " and " + "9" * 40 + "% and " + "9" * 20 + "th.",
    "x" + "ab.c-" * 400,
    "Pneumonoultramicroscopicsilicovolcanoconiosis" * 20,
]


@pytest.mark.parametrize("text", ROBUST_TEXTS)
def test_arbitrary_unicode(frontend: Frontend, text: str) -> None:
    _check_chunks(frontend.chunks(text), 510)


@pytest.mark.parametrize("text", ROBUST_TEXTS)
def test_arbitrary_unicode_in_ipa(text: str) -> None:
    # The rendering for non-English voices meets the same input.
    chunks = Frontend(alphabet="ipa").chunks(text)
    _check_chunks(chunks, 510)
    assert not set("".join(c.phonemes for c in chunks)) & set("AIOWYQTᵊ")


def test_ten_thousand_digits(frontend: Frontend) -> None:
    chunks = frontend.chunks("1234567890" * 1000)
    _check_chunks(chunks, 510)
    assert len(chunks) > 10
    spoken = [w.strip(",") for c in chunks for w in c.phonemes.split()]
    assert len(spoken) == 10_000


def test_long_sentence_without_punctuation(frontend: Frontend) -> None:
    text = " ".join(["river"] * 2000)  # about 12,000 characters, no punctuation
    chunks = frontend.chunks(text, max_tokens=100)
    _check_chunks(chunks, 100)
    assert sum(c.phonemes.count("ɹˈɪvəɹ") for c in chunks) == 2000


def test_200kb_prose(frontend: Frontend) -> None:
    text = _prose(200_000, seed=3)
    chunks = frontend.chunks(text)
    _check_chunks(chunks, 510)
    assert _letters_words(" ".join(c.text for c in chunks)) == _letters_words(text)
    assert {c.pause_after for c in chunks} >= {PAUSES["sentence"], PAUSES["paragraph"]}


def test_threads_share_one_g2p(frontend: Frontend) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"Thread {i} reads the record, then records it." for i in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: Frontend().chunks(t), texts))
    assert results == [frontend.chunks(t) for t in texts]


def test_a_request_whose_rest_has_nothing_to_speak_keeps_its_head():
    """The rest of a long request read after its head (split_head) may hold only symbols:
    that rest adds nothing, and is no error."""
    from vocalize import Engine
    from vocalize.text.frontend import HEAD_CHARS, split_head

    head = "The first paragraph is spoken at once, while the rest of the text is read. " * 3
    text = head + "\n\n" + "* " * HEAD_CHARS
    assert split_head(text)[1].startswith("*")
    engine = Engine()
    assert [c.token_ids for c in engine.chunks(text)] == [c.token_ids for c in engine.chunks(head)]
    with pytest.raises(vocalize.NothingToSpeak):
        engine.chunks("* " * HEAD_CHARS)


@pytest.mark.parametrize("text", ["Meet me in Hall C.", "We met at 10 a.m.", "She moved to the U.S.", "It is a cat."])
def test_a_sentence_ending_on_an_abbreviation_ends_on_a_full_stop(text: str) -> None:
    from vocalize.text import Frontend

    assert Frontend().phonemize(text).endswith(".")
