"""`tacotron dataset make` on synthetic test books (eSpeak NG sentences, random pauses, noise, a click,
a stretch of music-like tones), in English and Russian, with and without the transcript.

    flock /tmp/cpu.lock python benchmarks/dataset_make.py [--sentences 60] [--out /tmp/dataset-bench]

Prints one JSON line: per language, the book's length, boundary accuracy (true sentence edges with a
clip edge within 100 ms), mid-word cuts, whether the tones were rejected, the share of kept clips whose
text is exactly the true sentence (with --transcript), the recognizer's CER (without), clips kept, and
the speed on --threads threads in seconds of processing per hour of audio, VAD and ASR separately.
Also the agreement of Russian stress marks (silero-stress) with tests/data/russian_stress.txt.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from tacotron.config import load_config
from tacotron.data.recordings.maker import DatasetMaker
from tacotron.data.recordings.report import seconds_per_hour

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))  # the synthetic book is a test fixture (tests/support), not product code
from support.synthetic_book import read_test_book, score_against_truth, write_test_book  # noqa: E402

STRESS_LIST = TESTS / "data" / "russian_stress.txt"


def _clips(out: Path) -> list[dict]:
    return [clip for path in sorted((out / ".work").glob("*.json"))
            for clip in json.loads(path.read_text(encoding="utf-8"))["clips"]]


def measure_language(language: str, sentences: int, folder: Path, threads: int) -> dict:
    book_dir = folder / f"book-{language}"
    if not (book_dir / "truth.json").is_file():
        write_test_book(language, sentences, book_dir)
    book = read_test_book(book_dir)
    config = load_config(overrides=[f"dataset.asr_threads={threads}"])
    out = folder / f"made-{language}"
    shutil.rmtree(out, ignore_errors=True)  # timed from scratch, nothing cached
    # Without the transcript first: it cuts and recognizes (timed); the run with it reuses the cache.
    plain = DatasetMaker(out, language, config, progress=False)
    started = time.perf_counter()
    result = plain.make([book_dir / "book.wav"])
    total = time.perf_counter() - started
    measured = score_against_truth(book, result.report, _clips(out), with_transcript=False)
    timings = plain.timings
    with_text = DatasetMaker(out, language, config, transcript=book_dir / "book.txt", progress=False)
    aligned = with_text.make([book_dir / "book.wav"])
    truth = score_against_truth(book, aligned.report, _clips(out), with_transcript=True)
    return {**measured, "kept_without_transcript": measured.pop("kept"),
            "kept_with_transcript": truth["kept"], "text_exact": truth["text_exact"],
            "tones_rejected_with_transcript": truth["tones_rejected"],
            "vad_s_per_audio_hour": seconds_per_hour(timings["vad_seconds"], timings["audio_seconds"]),
            "asr_s_per_audio_hour": seconds_per_hour(timings["asr_seconds"], timings["audio_seconds"]),
            "total_s_per_audio_hour": seconds_per_hour(total, timings["audio_seconds"]),
            "problems": aligned.problems}


def stress_agreement() -> dict:
    from tacotron.text.stress import STRESS, Accentor, read_stress_list, stress_matches

    accentor = Accentor()
    result = {}
    for name, lines in read_stress_list(STRESS_LIST).items():
        matches = [match for line in lines
                   for match in stress_matches(line, accentor(line.replace(STRESS, "").replace("ё", "е")))]
        result[name] = {"agree": sum(matches), "of": len(matches), "share": round(sum(matches) / len(matches), 4)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=60, help="sentences per book (60: about 3.5 min)")
    parser.add_argument("--languages", default="en,ru")
    parser.add_argument("--out", default="/tmp/dataset-bench")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    folder = Path(args.out)
    report = {"threads": args.threads, "languages": {}}
    for language in args.languages.split(","):
        report["languages"][language] = measure_language(language, args.sentences, folder, args.threads)
    report["stress"] = stress_agreement()
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
