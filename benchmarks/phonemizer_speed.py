"""Phonemizer throughput and symbol use, per language, on the eSpeak corpus generator's sentences.

    flock /tmp/cpu.lock python benchmarks/phonemizer_speed.py --sentences 2000

Throughput = sentences / seconds of Frontend.to_input() (normalized text -> IPA, one thread, the
fastest of 3 passes), also given in characters of normalized text per second. Symbol use = distinct
phoneme-mode symbols the sentences produced, against the size of the fixed set (PAD and EOS included).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from tacotron.data.corpus import generate_sentences, generate_test_sentences
from tacotron.text import get_frontend

REPEATS = 3  # the fastest of this many passes: the least disturbed by other load


def measure(language: str, count: int) -> dict:
    frontend = get_frontend(language, "phonemes")
    sentences = [frontend.normalize(s) for s in generate_sentences(language, count)
                 + generate_test_sentences(language)]
    frontend.to_input(sentences[0])  # loads the library and the voice
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        phonemes = [frontend.to_input(sentence) for sentence in sentences]
        seconds.append(time.perf_counter() - start)
    used = set("".join(phonemes))
    return {
        "sentences": len(sentences),
        "sentences_per_second": round(len(sentences) / min(seconds), 1),
        "characters_per_second": round(sum(map(len, sentences)) / min(seconds)),
        "symbols": len(frontend.symbols),
        "symbols_used": len(used),
        "symbols_outside_set": sorted(used - set(frontend.symbols)),
        "character_symbols": len(get_frontend(language, "characters").symbols),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000, help="training sentences per language")
    args = parser.parse_args()
    print(json.dumps({language: measure(language, args.sentences) for language in ("en", "ru")}))


if __name__ == "__main__":
    main()
