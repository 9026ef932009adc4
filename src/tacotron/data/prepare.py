"""Validate a data set, compute its log-mels once, and fix its train/validation split.

Three layouts are accepted:
  * a directory in LJSpeech layout: `metadata.csv` with `id|text`, `id|text|normalized` or
    `id|text|normalized|speaker` lines and the audio in `wavs/{id}.wav` (the third column is
    ignored: we normalize `text` ourselves; the fourth names the speaker of a multi-speaker set);
  * a directory of speaker folders (VCTK style, no metadata.csv): `SPEAKER/UTTERANCE.wav` with its
    transcript in `SPEAKER/UTTERANCE.txt`; the id is `SPEAKER_UTTERANCE` (or UTTERANCE when it
    already starts with `SPEAKER_`, as VCTK's p225/p225_001 does);
  * a filelist file with `path|text` lines, the audio path absolute or relative to the filelist.

Everything goes to `prepared_dir(source)`: `mels/{id}.npy` (float32 [n_mels, frames]), `cache.json`
(what each mel was computed from), `split.json` ({id: "train" | "val"}, kept across runs),
`train.jsonl`, `val.jsonl`, `report.txt` (one problem per line) and `prepared.json`.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tacotron.audio.io import TRUNCATION_TOLERANCE_SECONDS, AudioLoadError, load_audio, missing_seconds
from tacotron.audio.mel import MelSpectrogram
from tacotron.config import AudioConfig, Config
from tacotron.errors import DataError
from tacotron.files import atomic_write, atomic_write_text, remove_stale_temp_files
from tacotron.text import Frontend, detect_language, get_frontend

LAYOUTS = (
    "Expected a directory with metadata.csv ('id|text' or 'id|text|normalized|speaker' lines) and "
    "wavs/{id}.wav, a directory of speaker folders (SPEAKER/UTTERANCE.wav with SPEAKER/UTTERANCE.txt), "
    "or a filelist file with 'path|text' lines (paths relative to the filelist or absolute)."
)
# Bump when the mel computation changes in a way AudioConfig does not show: cached mels are redone.
MEL_FORMAT_VERSION = 1
MEL_SETTINGS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax", "log_floor")
# Below this many files to process, starting worker processes costs more than it saves.
POOL_MIN_JOBS = 16
# cache.json is saved this often while log-mels are computed: an interrupted prepare (Ctrl-C,
# kill -9, a full disk) redoes at most this many seconds of them.
CACHE_SAVE_SECONDS = 10.0
SPLIT_SEED = 1234
PHONEME_EXAMPLES = 3  # utterances whose phonemes the summary shows


@dataclass
class Utterance:
    id: str
    text: str
    normalized: str
    mel_path: Path
    frames: int
    seconds: float
    phonemes: str = ""  # what the model reads when text.input=phonemes; "" when prepared for characters
    speaker: str = ""  # who speaks it in a multi-speaker data set; "" in a single-speaker one


@dataclass
class Problem:
    file: str
    line: int
    id: str
    action: str  # "skipped" | "fixed" | "warning"
    reason: str  # "kind: details"; the summary counts problems by kind

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.action}: {self.reason}"


@dataclass
class PreparedData:
    root: Path
    language: str
    train: list[Utterance]
    val: list[Utterance]
    problems: list[Problem]
    mels_computed: int = 0  # by the prepare() call that returned this; 0 when loaded from disk
    # The text.stress its texts were marked with (data_stress); "off" for data prepared before the setting.
    stress: str = "off"

    @property
    def speakers(self) -> list[str]:
        """The speakers' names, sorted: a speaker's index here is its id in the model's speaker
        table. Empty for a single-speaker data set."""
        return sorted({u.speaker for u in self.train + self.val if u.speaker})

    def speaker_minutes(self) -> dict[str, tuple[int, float]]:
        """Speaker -> (utterances, minutes of audio), over both splits."""
        totals = {speaker: (0, 0.0) for speaker in self.speakers}
        for u in self.train + self.val:
            if u.speaker:
                count, minutes = totals[u.speaker]
                totals[u.speaker] = (count + 1, minutes + u.seconds / 60)
        return totals

    def summary(self) -> str:
        utterances = self.train + self.val
        seconds = sum(u.seconds for u in utterances)
        duration = f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds / 60:.1f} min"
        lines = [
            f"{len(utterances)} utterances ({duration}): {len(self.train)} train, {len(self.val)} val; "
            f"language '{self.language}'; {self.mels_computed} log-mels computed, the rest cached"
        ]
        speakers = self.speaker_minutes()
        if speakers:
            lines.append(f"{len(speakers)} speakers (a model tells them apart with model.speaker_dim > 0):")
            lines += [f"  {name}: {count} utterances, {minutes:.1f} min"
                      for name, (count, minutes) in speakers.items()]
        actions = Counter(p.action for p in self.problems)
        if self.problems:
            counts = ", ".join(f"{actions[a]} {a}" for a in ("skipped", "fixed", "warning") if actions[a])
            lines.append(f"problems: {counts} (see {self.root / 'report.txt'})")
        kinds = Counter((p.action, p.reason.split(":")[0]) for p in self.problems)
        lines += [f"  {action:8} {kind}: {count}" for (action, kind), count in sorted(kinds.items())]
        examples = [u for u in utterances if u.phonemes][:PHONEME_EXAMPLES]
        if examples:
            lines.append("phonemes (text.input=phonemes), for example:")
            lines += [f"  {u.normalized}\n    {u.phonemes}" for u in examples]
        return "\n".join(lines)


def prepared_dir(source: str | Path) -> Path:
    source = Path(source)
    return source / "prepared" if source.is_dir() else source.parent / f"{source.stem}_prepared"


@dataclass
class _Line:
    """One usable line of the listing, followed through the checks."""

    file: str
    line: int
    id: str
    text: str
    audio_path: Path
    speaker: str = ""
    normalized: str = ""
    phonemes: str = ""

    def problem(self, action: str, reason: str) -> Problem:
        return Problem(self.file, self.line, self.id, action, reason)


@dataclass
class _MelJob:
    id: str
    audio_path: Path
    mel_path: Path
    size: int
    mtime_ns: int
    settings: str
    cached: dict | None  # the cache entry, if only the file's timestamp or size may have changed


def prepare(source: str | Path, config: Config, progress: bool = True) -> PreparedData:
    """Check every line of the data set, compute missing log-mels, and write the prepared folder."""
    source = Path(source)
    try:
        lines, problems = _read_listing(source)
    except DataError:
        # As when no line is usable (below): a prepared.json left from an earlier run must not
        # stand for data that no longer reads.
        (prepared_dir(source) / "prepared.json").unlink(missing_ok=True)
        raise
    language = config.text.language
    if language == "auto":
        language = detect_language(line.text for line in lines)
    stress = data_stress(config.text.stress, source)
    lines = _check_text(lines, get_frontend(language, config.text.input, stress), problems)

    root = prepared_dir(source)
    (root / "mels").mkdir(parents=True, exist_ok=True)
    for folder in (root, root / "mels"):  # what a run killed mid-write left
        remove_stale_temp_files(folder)
    cache = _read_json(root / "cache.json")
    entries, mels_computed = _update_mels(lines, root, config, cache, progress, problems)
    atomic_write_text(root / "cache.json", json.dumps(entries, indent=1, sort_keys=True))

    kept = _check_audio(lines, entries, config, problems)
    kept = _drop_speaking_rate_outliers(kept, entries, config.data.cps_outlier_mads, problems)
    for line in kept:
        clipped = entries[line.id]["clipped_fraction"]
        if clipped > config.data.clipping_fraction:
            problems.append(line.problem("warning", f"clipping: {clipped:.2%} of samples at full scale"))
    problems.sort(key=lambda p: (p.file, p.line))
    report_path = root / "report.txt"
    atomic_write_text(report_path, "".join(f"{p}\n" for p in problems))
    if not kept:
        # A stale prepared.json must not let `train` go on with an old version of the data.
        (root / "prepared.json").unlink(missing_ok=True)
        raise DataError(f"no usable utterance in {source}: every line has a problem; see {report_path}")

    previous_split = _read_json(root / "split.json")
    split = _assign_split([line.id for line in kept], previous_split, config.data.val_size)
    atomic_write_text(root / "split.json", json.dumps(split, indent=1, sort_keys=True))
    utterances = [
        Utterance(line.id, line.text, line.normalized, root / "mels" / f"{line.id}.npy",
                  entries[line.id]["frames"], entries[line.id]["seconds"], line.phonemes, line.speaker)
        for line in kept
    ]
    data = PreparedData(
        root=root,
        language=language,
        stress=stress,
        train=[u for u in utterances if split[u.id] == "train"],
        val=[u for u in utterances if split[u.id] == "val"],
        problems=problems,
        mels_computed=mels_computed,
    )
    _write_prepared(data, config.audio)
    return data


def load_prepared(source: str | Path) -> PreparedData:
    """What the last successful prepare(source) wrote."""
    root = prepared_dir(source)
    info_path = root / "prepared.json"
    if not info_path.is_file():
        raise DataError(f"{source} is not prepared ({info_path} is missing): run `tacotron prepare {source}`")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        splits = {name: _read_utterances(root / f"{name}.jsonl", root) for name in ("train", "val")}
        problems = [Problem(**p) for p in info["problems"]]
        language = info["language"]
        stress = info.get("stress", "off")  # prepared before text.stress: no marks were added
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{root} is damaged ({error}): run `tacotron prepare {source}` again") from None
    return PreparedData(root, language, splits["train"], splits["val"], problems, stress=stress)


def data_stress(setting: str, source: Path) -> str:
    """The text.stress a data set's texts are marked with: `setting`, except that `auto` is `off` for a
    corpus made by `tacotron corpus make` (corpus.json beside its metadata). A speech engine (eSpeak,
    Festival, Piper) spoke that corpus with its own stresses; marks from Silero would teach the voice
    stresses its audio does not have, wherever the two disagree. Human recordings take the marks."""
    folder = source if source.is_dir() else source.parent
    if setting == "auto" and (folder / "corpus.json").is_file():
        return "off"
    return setting


def _read_listing(source: Path) -> tuple[list[_Line], list[Problem]]:
    """Lines of metadata.csv or the filelist; badly formed lines and duplicate ids become problems."""
    is_directory = source.is_dir()
    if is_directory:
        listing = source / "metadata.csv"
        if not listing.is_file():
            if any(source.glob("*/*.wav")):
                return _read_speaker_folders(source)
            raise DataError(f"{source} has no metadata.csv and no SPEAKER/UTTERANCE.wav files. {LAYOUTS}")
    elif source.is_file():
        listing = source
    else:
        raise DataError(f"{source} does not exist. {LAYOUTS}")
    try:
        content = read_text_file(listing)
    except NotUTF8 as error:  # or not a listing at all (an audio file given as the data)
        raise DataError(f"{error}. {LAYOUTS}") from None
    except OSError as error:
        raise DataError(f"{listing}: cannot be read ({error.strerror or error}). {LAYOUTS}") from None

    lines, problems = [], []
    first_line_of_id: dict[str, int] = {}
    # Lines end at "\n" only (read_text_file turned "\r\n" and "\r" into it): str.splitlines would also
    # end one at U+0085, U+2028, \v, \f or \x1c-\x1e inside a text, splitting its line in two and
    # shifting every line number after it.
    for number, raw in enumerate(content.split("\n"), start=1):
        if not raw.strip():
            continue
        fields = [f.strip() for f in raw.split("|")]
        speaker = ""
        if is_directory:
            expected = "'id|text', 'id|text|normalized' or 'id|text|normalized|speaker'"
            well_formed = len(fields) in (2, 3) or (len(fields) == 4 and bool(fields[3]))
            speaker = fields[3] if len(fields) == 4 else ""
            item_id = fields[0]
            audio_path = source / "wavs" / f"{item_id}.wav"
        else:
            expected = "'path|text'"
            well_formed = len(fields) == 2
            # An absolute path replaces the folder when joined, so both kinds of path work.
            audio_path = listing.parent / fields[0]
            item_id = Path(fields[0]).stem
        problem = Problem(str(listing), number, item_id, "skipped", "")
        if not well_formed:
            problem.reason = f"wrong number of fields: expected {expected}, found {len(fields)} field(s)"
        elif (not item_id or item_id.startswith(".") or Path(item_id).name != item_id
              or "\x00" in fields[0]):  # no file name holds a NUL (the OS refuses it)
            problem.reason = f"invalid id: {item_id!r} must be a plain file name"
        elif item_id in first_line_of_id:
            problem.reason = f"duplicate id: {item_id!r} is already on line {first_line_of_id[item_id]}"
        else:
            first_line_of_id[item_id] = number
            lines.append(_Line(str(listing), number, item_id, fields[1], audio_path, speaker))
            continue
        problems.append(problem)
    return _check_speakers(lines, problems)


class NotUTF8(DataError):
    """A text file that does not decode as UTF-8, with the line of its first bad byte."""

    def __init__(self, path: Path, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}")
        self.line = line
        self.reason = reason


def read_text_file(path: Path) -> str:
    """A listing or transcript as text: UTF-8 with or without a byte-order mark, its line ends
    made "\n". NotUTF8 names the line and column of the first byte that is not UTF-8."""
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise NotUTF8(path, 1, "not UTF-8 text: it is UTF-16 (it starts with a UTF-16 byte-order mark); "
                               "save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        raise NotUTF8(path, line, f"not UTF-8 text: byte {data[error.start]:#04x} at column {column} "
                                  "(a Windows code page such as cp1251 or cp1252?); save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_speakers(lines: list[_Line], problems: list[Problem]) -> tuple[list[_Line], list[Problem]]:
    """In a data set that names speakers, a line without one cannot be used (whose voice is it?)."""
    if not any(line.speaker for line in lines):
        return lines, problems
    for line in lines:
        if not line.speaker:
            problems.append(line.problem("skipped", "no speaker: the other lines name theirs in a fourth column"))
    return [line for line in lines if line.speaker], problems


def _read_speaker_folders(source: Path) -> tuple[list[_Line], list[Problem]]:
    """VCTK-style `SPEAKER/UTTERANCE.wav` + `SPEAKER/UTTERANCE.txt`; a wav without its transcript
    (or with an unreadable or empty one) is a problem of that wav."""
    lines, problems = [], []
    for audio_path in sorted(source.glob("*/*.wav")):
        speaker, stem = audio_path.parent.name, audio_path.stem
        item_id = stem if stem.startswith(f"{speaker}_") else f"{speaker}_{stem}"
        transcript = audio_path.with_suffix(".txt")
        try:
            text = " ".join(read_text_file(transcript).split())
        except NotUTF8 as error:
            problems.append(Problem(str(transcript), error.line, item_id, "skipped", f"no transcript: {error.reason}"))
            continue
        except OSError as error:
            problems.append(Problem(str(transcript), 1, item_id, "skipped",
                                    f"no transcript: {error.strerror or error}"))
            continue
        if not text:
            problems.append(Problem(str(transcript), 1, item_id, "skipped", "no transcript: the file is empty"))
            continue
        lines.append(_Line(str(transcript), 1, item_id, text, audio_path, speaker))
    if not lines and not problems:
        raise DataError(f"{source} has no SPEAKER/UTTERANCE.wav files. {LAYOUTS}")
    return lines, problems


def _check_text(lines: list[_Line], frontend: Frontend, problems: list[Problem]) -> list[_Line]:
    kept = []
    for line in lines:
        # Stress-marked as synthesis marks it (text.stress), so that a voice hears what it learned.
        line.normalized = frontend.stressed(frontend.normalize(line.text))
        if not line.normalized.strip():
            problems.append(line.problem("skipped", "empty text after normalization"))
            continue
        if frontend.input == "phonemes":
            line.phonemes = frontend.to_input(line.normalized)
            unread = frontend.unphonemizable_words(line.normalized)
            if unread:
                listed = ", ".join(repr(word) for word in unread)
                problems.append(line.problem("warning", f"phonemes: eSpeak could not phonemize {listed}"))
        unknown = frontend.unknown_characters(line.phonemes or line.normalized)
        if unknown:
            listed = ", ".join(repr(character) for character in unknown)
            problems.append(line.problem("skipped", f"unknown {frontend.input}: {listed}"))
        else:
            kept.append(line)
    return kept


def _mel_settings(audio_config: AudioConfig) -> str:
    """A fingerprint of everything that changes a file's log-mel."""
    settings = {name: getattr(audio_config, name) for name in MEL_SETTINGS}
    text = json.dumps([MEL_FORMAT_VERSION, settings], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _update_mels(
    lines: list[_Line], root: Path, config: Config, cache: dict, progress: bool, problems: list[Problem]
) -> tuple[dict[str, dict], int]:
    """Cache entries of all readable files ({id: entry}), computing the mels that are out of date.

    An entry is reused without reading the file when path, size and mtime match; when only those
    changed, the file is hashed and its mel recomputed only if the bytes (sha1) differ.
    """
    settings = _mel_settings(config.audio)
    entries: dict[str, dict] = {}
    jobs = []
    for line in lines:
        try:
            stat = line.audio_path.stat()
        except OSError:
            problems.append(line.problem("skipped", f"audio file not found: {line.audio_path}"))
            continue
        mel_path = root / "mels" / f"{line.id}.npy"
        cached = cache.get(line.id)
        usable = (
            cached is not None
            and cached["settings"] == settings
            and cached["path"] == str(line.audio_path)
            and (cached["frames"] == 0 or mel_path.is_file())
        )
        if usable and (cached["size"], cached["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
            entries[line.id] = cached
        else:
            jobs.append(_MelJob(line.id, line.audio_path, mel_path, stat.st_size, stat.st_mtime_ns,
                                settings, cached if usable else None))

    by_id = {line.id: line for line in lines}
    mels_computed = 0
    if jobs:
        # Mels are about to change in place: until the new index is written, an interrupted run
        # (Ctrl-C, kill -9, a full disk) must not leave the old one pointing at them.
        (root / "prepared.json").unlink(missing_ok=True)
    saved = time.monotonic()
    for line_id, outcome, computed in _run_jobs(jobs, config, progress) if jobs else []:
        if isinstance(outcome, str):
            problems.append(by_id[line_id].problem("skipped", outcome))
        else:
            entries[line_id] = outcome
        mels_computed += computed
        if time.monotonic() - saved >= CACHE_SAVE_SECONDS:
            # The old entries stay until the end (each is checked against its file when read).
            atomic_write_text(root / "cache.json", json.dumps({**cache, **entries}, indent=1, sort_keys=True))
            saved = time.monotonic()
    return entries, mels_computed


def _run_jobs(jobs: list[_MelJob], config: Config, progress: bool) -> Iterator[tuple[str, dict | str, bool]]:
    """Each job's result, in order, as it is done."""
    mel_fn = MelSpectrogram(config.audio)
    workers = config.data.num_workers or os.cpu_count() or 1
    with tqdm(total=len(jobs), desc="log-mels", unit="file", disable=not progress) as bar:
        if workers == 1 or len(jobs) < POOL_MIN_JOBS:
            for job in jobs:
                yield _process(job, mel_fn)
                bar.update()
        else:
            chunksize = max(1, min(16, len(jobs) // (4 * workers)))
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(mel_fn,)) as pool:
                for result in pool.map(_process_in_worker, jobs, chunksize=chunksize):
                    yield result
                    bar.update()


_worker_mel_fn: MelSpectrogram | None = None


def _init_worker(mel_fn: MelSpectrogram) -> None:
    global _worker_mel_fn
    # One process per core already: more threads per process would only compete for the cores.
    torch.set_num_threads(1)
    _worker_mel_fn = mel_fn


def _process_in_worker(job: _MelJob) -> tuple[str, dict | str, bool]:
    return _process(job, _worker_mel_fn)


def _process(job: _MelJob, mel_fn: MelSpectrogram) -> tuple[str, dict | str, bool]:
    """(id, new cache entry or the reason the file is unusable, whether a mel was computed)."""
    try:
        with open(job.audio_path, "rb") as file:
            sha1 = hashlib.file_digest(file, "sha1").hexdigest()
    except OSError as error:
        return job.id, f"unreadable audio: {error}", False
    if job.cached is not None and job.cached["sha1"] == sha1:
        # Same bytes under a new timestamp (touched, copied): the mel on disk is still right.
        return job.id, {**job.cached, "size": job.size, "mtime_ns": job.mtime_ns}, False
    try:
        waveform, info = load_audio(job.audio_path, mel_fn.sample_rate)
    except AudioLoadError as error:
        return job.id, error.reason, False
    frames = 0
    # Shorter than one window cannot be framed (and is far below any sensible minimum duration).
    if len(waveform) >= mel_fn.n_fft:
        with torch.no_grad():
            mel = mel_fn(torch.from_numpy(waveform)).numpy()
        atomic_write(job.mel_path, lambda handle: np.save(handle, mel))
        frames = mel.shape[1]
    entry = {
        "path": str(job.audio_path),
        "size": job.size,
        "mtime_ns": job.mtime_ns,
        "sha1": sha1,
        "settings": job.settings,
        "frames": frames,
        "missing_seconds": missing_seconds(job.audio_path),
        **dataclasses.asdict(info),
    }
    return job.id, entry, frames > 0


def _check_audio(lines: list[_Line], entries: dict[str, dict], config: Config,
                 problems: list[Problem]) -> list[_Line]:
    """Lines whose audio is usable; downmixing and resampling are noted as fixed."""
    min_seconds, max_seconds = config.data.min_seconds, config.data.max_seconds
    kept = []
    for line in lines:
        entry = entries.get(line.id)
        if entry is None:  # already reported as missing or unreadable
            continue
        seconds = entry["seconds"]
        missing = entry.get("missing_seconds", 0.0)  # absent from caches of older versions
        if missing > TRUNCATION_TOLERANCE_SECONDS:
            problems.append(line.problem("skipped", (
                f"truncated audio: the WAV header declares {seconds + missing:.2f} s, the file holds "
                f"{seconds:.2f} s (a copy or download that did not finish, or a wrong header)")))
            continue
        if not min_seconds <= seconds <= max_seconds:
            reason = f"duration out of range: {seconds:.2f} s is outside [{min_seconds}, {max_seconds}] s"
            problems.append(line.problem("skipped", reason))
            continue
        if entry["frames"] == 0:
            problems.append(line.problem("skipped", f"too short for one mel frame: {seconds:.3f} s"))
            continue
        channels, sample_rate = entry["channels"], entry["sample_rate"]
        if channels != 1:
            problems.append(line.problem("fixed", f"downmixed to mono: the file has {channels} channels"))
        if sample_rate != config.audio.sample_rate:
            target = config.audio.sample_rate
            problems.append(line.problem("fixed", f"resampled to {target} Hz: the file is {sample_rate} Hz"))
        kept.append(line)
    return kept


def _speaking_rate_outliers(rates: np.ndarray, max_mads: float) -> np.ndarray:
    """True where |cps - median(cps)| > max_mads * MAD, with MAD = median(|cps - median(cps)|).

    cps is characters (of normalized text) per second. When MAD is 0 nothing is an outlier.
    """
    median = np.median(rates)
    mad = np.median(np.abs(rates - median))
    return (mad > 0) & (np.abs(rates - median) > max_mads * mad)


def _drop_speaking_rate_outliers(lines: list[_Line], entries: dict[str, dict], max_mads: float,
                                 problems: list[Problem]) -> list[_Line]:
    """Transcripts far too long or short for their audio: usually the wrong text or a cut recording."""
    if not lines:
        return lines
    rates = np.array([len(line.normalized) / entries[line.id]["seconds"] for line in lines])
    outliers = _speaking_rate_outliers(rates, max_mads)
    median = float(np.median(rates))
    for line, rate, outlier in zip(lines, rates, outliers):
        if outlier:
            problems.append(line.problem(
                "skipped", f"speaking rate outlier: {rate:.1f} characters/s, the median is {median:.1f}"))
    return [line for line, outlier in zip(lines, outliers) if not outlier]


def _assign_split(ids: list[str], previous: dict[str, str], val_size: int) -> dict[str, str]:
    """Assignments already made are kept (also for ids absent this time) and new ids go to train.

    The first time, validation gets min(val_size, 10% of the utterances) ids, at least one when
    there are two or more, picked by a seeded shuffle of the sorted ids.
    """
    if previous:
        return {**{item_id: "train" for item_id in ids}, **previous}
    val_count = min(val_size, max(1, len(ids) // 10)) if len(ids) >= 2 else 0
    order = sorted(ids)
    random.Random(SPLIT_SEED).shuffle(order)
    val_ids = set(order[:val_count])
    return {item_id: "val" if item_id in val_ids else "train" for item_id in ids}


def _write_prepared(data: PreparedData, audio_config: AudioConfig) -> None:
    for name, utterances in (("train", data.train), ("val", data.val)):
        rows = [
            json.dumps({**dataclasses.asdict(u), "mel_path": u.mel_path.relative_to(data.root).as_posix()},
                       ensure_ascii=False)
            for u in utterances
        ]
        atomic_write_text(data.root / f"{name}.jsonl", "".join(f"{row}\n" for row in rows))
    actions = Counter(p.action for p in data.problems)
    info = {
        "language": data.language,
        "stress": data.stress,
        "audio": dataclasses.asdict(audio_config),
        "counts": {"train": len(data.train), "val": len(data.val),
                   **{action: actions[action] for action in ("skipped", "fixed", "warning")}},
        "hours": sum(u.seconds for u in data.train + data.val) / 3600,
        "speakers": {name: {"utterances": count, "minutes": round(minutes, 2)}
                     for name, (count, minutes) in data.speaker_minutes().items()},
        "problems": [dataclasses.asdict(p) for p in data.problems],
    }
    atomic_write_text(data.root / "prepared.json", json.dumps(info, indent=1, ensure_ascii=False))


def _read_utterances(path: Path, root: Path) -> list[Utterance]:
    utterances = []
    # Rows end at "\n" only: a text keeps U+2028 or U+0085 unescaped (ensure_ascii=False), which
    # str.splitlines would take for the end of its row.
    for row in path.read_text(encoding="utf-8").split("\n"):
        if not row:
            continue
        fields = json.loads(row)
        utterances.append(Utterance(**{**fields, "mel_path": root / fields["mel_path"]}))
    return utterances


def _read_json(path: Path) -> dict:
    """The JSON object in `path`, or {} when the file is missing or damaged (then it is rebuilt)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
