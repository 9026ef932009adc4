"""Intelligibility of speech as word error rate of an outside recognizer (PocketSphinx).

    python benchmarks/intelligibility.py [--data data/espeak-en] [--wavs DIR] [--timeout 30] [--show]

Transcribes DIR/ID.wav for every held-out sentence of DATA/test_sentences.csv (default
DIR = DATA/test_wavs, the original eSpeak audio, which gives the baseline) and prints one
JSON line with the corpus word error rate.

The recognizer is PocketSphinx's stock US-English acoustic model with a trigram language
model and a dictionary built here from the corpus sentences: a closed-vocabulary recognizer.
The same language model is used for eSpeak and for synthesized audio, so the WERs compare.
Every input is scaled to -20 dBFS and given a fixed -50 dBFS noise floor before decoding
(condition_level): on digitally clean eSpeak audio this took the baseline WER from 0.68 to 0.12.

Also imported by other benchmarks:

    from intelligibility import Recognizer, word_error_rate
"""

import argparse
import collections
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pocketsphinx
import soundfile
import soxr

SAMPLE_RATE = 16000  # the en-us acoustic model was trained on 16 kHz audio
MODEL_DIR = Path(pocketsphinx.get_model_path()) / "en-us"
ACOUSTIC_MODEL_DIR = MODEL_DIR / "en-us"
CMUDICT_PATH = MODEL_DIR / "cmudict-en-us.dict"
LM_ORDER = 3
SPEECH_RMS = 10 ** (-20 / 20)  # every input is scaled to -20 dBFS ...
NOISE_RMS = 10 ** (-50 / 20)   # ... and gets a -50 dBFS Gaussian noise floor (see condition_level)
NOISE_SEED = 0
SHORT_IDS = range(1, 17)   # en_test_001..016: ordinary sentences
LONG_IDS = range(17, 25)   # en_test_017..024: 20-60-word sentences
WORD_PATTERN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
SENTENCE_START, SENTENCE_END = "<s>", "</s>"
LOG10_ZERO = -99.0  # ARPA convention for "never predicted" (<s> as a unigram)


# ---------------------------------------------------------------- word error rate

def words(text):
    """Lowercased words of text; punctuation dropped except apostrophes inside words.

    Hyphens and other punctuation separate words ("well-known" -> "well", "known").
    """
    return WORD_PATTERN.findall(text.lower())


def edit_distance(reference, hypothesis):
    """Word-level Levenshtein distance = minimum S + D + I turning reference into hypothesis.

    d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + [ref[i] != hyp[j]]).
    """
    previous_row = list(range(len(hypothesis) + 1))
    for i, reference_word in enumerate(reference, start=1):
        row = [i]
        for j, hypothesis_word in enumerate(hypothesis, start=1):
            row.append(min(previous_row[j] + 1,          # deletion
                           row[j - 1] + 1,               # insertion
                           previous_row[j - 1] + (reference_word != hypothesis_word)))
        previous_row = row
    return previous_row[-1]


def word_error_rate(references, hypotheses):
    """Corpus word error rate over all utterances.

        WER = sum_u (S_u + D_u + I_u) / sum_u N_u

    S, D, I: substitutions, deletions, insertions of the word-level Levenshtein alignment
    of utterance u; N_u: words in its reference. Words are compared by words(): lowercase,
    no punctuation. Can exceed 1 when the hypotheses insert many words.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    edits = sum(edit_distance(words(r), words(h)) for r, h in zip(references, hypotheses))
    reference_words = sum(len(words(r)) for r in references)
    return edits / max(reference_words, 1)


# ---------------------------------------------------------------- language model

def count_ngrams(sentences, order):
    """counts[n][(w1..wn)] over sentences padded as <s> w1 .. wk </s>, for n = 1..order."""
    counts = {n: collections.Counter() for n in range(1, order + 1)}
    for sentence in sentences:
        tokens = [SENTENCE_START, *words(sentence), SENTENCE_END]
        for n in range(1, order + 1):
            for start in range(len(tokens) - n + 1):
                counts[n][tuple(tokens[start:start + n])] += 1
    return counts


def absolute_discount(ngram_counts):
    """Ney's estimate D = n1 / (n1 + 2 n2), n_k = number of n-grams seen exactly k times.

    Clamped to [0.1, 0.9] so tiny corpora still get a usable discount.
    """
    count_of_counts = collections.Counter(ngram_counts.values())
    n1, n2 = count_of_counts[1], count_of_counts[2]
    discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
    return min(max(discount, 0.1), 0.9)


def interpolated_probabilities(counts, order):
    """Interpolated absolute discounting; returns (probabilities, backoff_weights).

    Unigrams (vocabulary V = words + </s>, <s> is never predicted):
        P(w) = max(c(w) - D1, 0) / N + D1 * |V| / N * 1 / |V|
    Higher orders, history h, shorter history h':
        P(w | h) = max(c(h w) - D, 0) / c(h) + gamma(h) * P(w | h')
        gamma(h) = D * N1+(h .) / c(h),   c(h) = sum_w c(h w),   N1+(h .) = #{w : c(h w) > 0}
    In ARPA form every seen n-gram stores the full interpolated P(w | h), and an unseen w
    backs off as gamma(h) * P(w | h'), so the ARPA back-off weight of h is exactly gamma(h)
    and every P(. | h) sums to one.
    """
    probabilities, backoff_weights = {}, {}
    unigram_counts = {g: c for g, c in counts[1].items() if g != (SENTENCE_START,)}
    total = sum(unigram_counts.values())
    discount = absolute_discount(unigram_counts)
    uniform_mass = discount * len(unigram_counts) / total / len(unigram_counts)
    for unigram, count in unigram_counts.items():
        probabilities[unigram] = max(count - discount, 0) / total + uniform_mass
    for n in range(2, order + 1):
        discount = absolute_discount(counts[n])
        history_totals, history_types = collections.Counter(), collections.Counter()
        for ngram, count in counts[n].items():
            history_totals[ngram[:-1]] += count
            history_types[ngram[:-1]] += 1
        for history, history_total in history_totals.items():
            backoff_weights[history] = discount * history_types[history] / history_total
        for ngram, count in counts[n].items():
            history = ngram[:-1]
            lower = probabilities[ngram[1:]]
            probabilities[ngram] = (max(count - discount, 0) / history_totals[history]
                                    + backoff_weights[history] * lower)
    return probabilities, backoff_weights


def write_arpa(sentences, path, order=LM_ORDER):
    """Write an ARPA back-off n-gram model of sentences to path (log10 probabilities)."""
    counts = count_ngrams(sentences, order)
    probabilities, backoff_weights = interpolated_probabilities(counts, order)
    ngrams_by_order = {n: sorted(counts[n]) for n in range(1, order + 1)}
    lines = ["\\data\\"]
    lines += [f"ngram {n}={len(ngrams_by_order[n])}" for n in range(1, order + 1)]
    for n in range(1, order + 1):
        lines += ["", f"\\{n}-grams:"]
        for ngram in ngrams_by_order[n]:
            log_probability = (LOG10_ZERO if ngram == (SENTENCE_START,)
                               else math.log10(probabilities[ngram]))
            line = f"{log_probability:.6f}\t{' '.join(ngram)}"
            if n < order and ngram in backoff_weights:
                line += f"\t{math.log10(backoff_weights[ngram]):.6f}"
            lines.append(line)
    lines += ["", "\\end\\", ""]
    Path(path).write_text("\n".join(lines))


# ---------------------------------------------------------------- dictionary

def read_cmudict(path=CMUDICT_PATH):
    """{word: [pronunciation line, ...]} from a CMU dictionary, keeping word(2) variants."""
    pronunciations = collections.defaultdict(list)
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        entry = line.split("#")[0].strip()
        if not entry:
            continue
        word = entry.split()[0]
        base_word = re.sub(r"\(\d+\)$", "", word)
        pronunciations[base_word].append(entry)
    return pronunciations


def write_dictionary(vocabulary, path):
    """Write the cmudict entries of vocabulary to path; return the words cmudict lacks."""
    pronunciations = read_cmudict()
    missing = sorted(w for w in vocabulary if w not in pronunciations)
    lines = [entry for w in sorted(vocabulary) for entry in pronunciations.get(w, [])]
    Path(path).write_text("\n".join(lines) + "\n")
    return missing


# ---------------------------------------------------------------- decoding worker

_worker_decoder = None  # one Decoder per worker process: loading the models takes seconds


def _start_worker_decoder(decoder_options):
    global _worker_decoder
    _worker_decoder = pocketsphinx.Decoder(**decoder_options)


def condition_level(audio):
    """Scale to a fixed level and add a fixed, seeded noise floor: a = a * L / rms(a) + n.

    L = SPEECH_RMS (-20 dBFS), n ~ N(0, NOISE_RMS^2) (-50 dBFS), so every input is heard
    at the same 30 dB signal-to-noise ratio. Why: eSpeak audio is digitally clean (runs of
    exact zeros, near-silent frames) unlike the speech the acoustic model was trained on;
    decoded as is, the baseline WER was 0.68, with this floor 0.11. Scaling first makes
    the floor independent of how loud a synthesizer's output is; the fixed seed makes a
    file always transcribe the same way.
    """
    rms = float(np.sqrt(np.mean(np.square(audio))))
    if rms > 0:
        audio = audio * (SPEECH_RMS / rms)
    noise = np.random.default_rng(NOISE_SEED).normal(0.0, NOISE_RMS, audio.shape)
    return (audio + noise).astype(np.float32)


def load_pcm16(wav_path):
    """Mono 16 kHz int16 PCM bytes of a wav file (resampled with soxr, level conditioned)."""
    audio, sample_rate = soundfile.read(wav_path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, SAMPLE_RATE)
    audio = condition_level(audio)
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def _decode_in_worker(wav_path):
    decoder = _worker_decoder
    decoder.start_utt()
    decoder.process_raw(load_pcm16(wav_path), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def clean_hypothesis(text):
    """Drop fillers (<sil>, [NOISE]) and alternate-pronunciation marks (word(2))."""
    tokens = [re.sub(r"\(\d+\)$", "", t) for t in text.split()]
    return " ".join(t for t in tokens if not t.startswith(("<", "[")))


# ---------------------------------------------------------------- recognizer

class Recognizer:
    """PocketSphinx en-us recognizer with a trigram LM and dictionary of corpus_sentences.

    Each utterance is decoded in a worker process so that a decode that hangs (seen with
    degraded audio) can be killed after timeout_s; it then counts in self.timeouts and
    transcribes as "". Words of corpus_sentences missing from cmudict are in self.oov_words
    and cannot be recognized.
    """

    def __init__(self, corpus_sentences, timeout_s=30.0, lm_weight=None, order=LM_ORDER):
        self.timeout_s = timeout_s
        self.timeouts = 0
        self.model_dir = tempfile.mkdtemp(prefix="intelligibility-")
        lm_path = os.path.join(self.model_dir, "corpus.lm")
        dict_path = os.path.join(self.model_dir, "corpus.dict")
        write_arpa(corpus_sentences, lm_path, order=order)
        vocabulary = {w for sentence in corpus_sentences for w in words(sentence)}
        self.oov_words = write_dictionary(vocabulary, dict_path)
        self.decoder_options = dict(hmm=str(ACOUSTIC_MODEL_DIR), lm=lm_path, dict=dict_path,
                                    samprate=SAMPLE_RATE, loglevel="FATAL", logfn=os.devnull)
        if lm_weight is not None:
            self.decoder_options["lw"] = lm_weight
        # spawn, not fork: callers may hold torch thread pools that do not survive fork
        self._context = multiprocessing.get_context("spawn")
        self._pool = None
        self._start_pool()

    def _start_pool(self):
        self._pool = self._context.Pool(1, initializer=_start_worker_decoder,
                                        initargs=(self.decoder_options,))

    def transcribe(self, wav_path):
        """Recognized text of one wav file ("" if the decode ran past timeout_s)."""
        pending = self._pool.apply_async(_decode_in_worker, (str(wav_path),))
        try:
            return clean_hypothesis(pending.get(timeout=self.timeout_s))
        except multiprocessing.TimeoutError:
            self.timeouts += 1
            self._pool.terminate()  # kills the stuck worker; a fresh one reloads the models
            self._start_pool()
            return ""

    def transcribe_many(self, wav_paths):
        return [self.transcribe(p) for p in wav_paths]

    def close(self):
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        shutil.rmtree(self.model_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass  # interpreter shutdown: modules may already be gone


# ---------------------------------------------------------------- command line

def read_sentences(csv_path):
    """[(id, normalized text)] of an LJSpeech-layout metadata file (id|text|normalized)."""
    rows = []
    for line in Path(csv_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            fields = line.split("|")
            rows.append((fields[0], fields[-1]))
    return rows


def read_corpus_sentences(data_dir):
    """The language model's text: the training sentences and the held-out ones. Including the
    held-out sentences makes the closed vocabulary cover every test word; eSpeak and synthesized
    audio are decoded with this same LM, so their WERs compare."""
    data_dir = Path(data_dir)
    return [text for _, text in read_sentences(data_dir / "metadata.csv")
            + read_sentences(data_dir / "test_sentences.csv")]


def sentence_number(sentence_id):
    return int(sentence_id.rsplit("_", 1)[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/espeak-en")
    parser.add_argument("--wavs", default=None, help="folder of ID.wav (default DATA/test_wavs)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--lw", type=float, default=None, help="LM weight (decoder default 6.5)")
    parser.add_argument("--show", action="store_true", help="print reference/hypothesis pairs")
    args = parser.parse_args()
    data_dir = Path(args.data)
    wav_dir = Path(args.wavs) if args.wavs else data_dir / "test_wavs"
    started = time.perf_counter()
    test = read_sentences(data_dir / "test_sentences.csv")
    with Recognizer(read_corpus_sentences(data_dir), timeout_s=args.timeout, lm_weight=args.lw) as recognizer:
        hypotheses = recognizer.transcribe_many([wav_dir / f"{i}.wav" for i, _ in test])
        timeouts, oov_words = recognizer.timeouts, recognizer.oov_words
    references = [text for _, text in test]
    if args.show:
        for (sentence_id, reference), hypothesis in zip(test, hypotheses):
            print(f"{sentence_id} REF: {' '.join(words(reference))}", file=sys.stderr)
            print(f"{sentence_id} HYP: {hypothesis}", file=sys.stderr)
        if oov_words:
            print(f"OOV (not in cmudict): {' '.join(oov_words)}", file=sys.stderr)

    def wer_of(numbers):
        pairs = [(r, h) for (i, r), h in zip(test, hypotheses) if sentence_number(i) in numbers]
        return round(word_error_rate([r for r, _ in pairs], [h for _, h in pairs]), 4)

    print(json.dumps({
        "benchmark": "intelligibility", "wavs": str(wav_dir), "utterances": len(test),
        "wer": round(word_error_rate(references, hypotheses), 4),
        "wer_short": wer_of(SHORT_IDS), "wer_long": wer_of(LONG_IDS),
        "timeouts": timeouts, "oov_words": len(oov_words),
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
