"""Reading a corpus's held-out sentences (test_sentences.csv), for evaluation and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tacotron.errors import DataError


@dataclass
class HeldOutSentence:
    id: str
    text: str  # as written, with digits and punctuation
    normalized: str  # as spoken: what a listener (or a recognizer) should hear


def read_test_sentences(corpus_dir: str | Path) -> list[HeldOutSentence]:
    """The held-out list (test_sentences.csv, `id|text|normalized`), in file order."""
    path = Path(corpus_dir) / "test_sentences.csv"
    if not path.is_file():
        raise DataError(f"{path} not found: make the corpus with `tacotron corpus make`")
    return [HeldOutSentence(*line.split("|", 2))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
