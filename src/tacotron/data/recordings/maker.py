"""`tacotron dataset make`: long recordings -> an LJSpeech folder that `prepare` and `train` read as it is.

Stages, each cached in OUT/.work so that a second run (or one after Ctrl-C) redoes nothing:
  1. per source file: decode, loudness-normalize, voice activity, cut, write OUT/clips/ID.wav and
     OUT/.work/SOURCE.json (atomically, when the file is done; a changed file is redone);
  2. per clip: speech recognition, appended to OUT/.work/SOURCE.asr.jsonl as each clip finishes;
  3. every run: transcript alignment, stress marks, scores, then OUT/wavs/, metadata.csv and the
     report (cheap, so it is simply redone over everything cached).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from tacotron.audio.io import (CLIP_LEVEL, TRUNCATION_TOLERANCE_SECONDS, AudioLoadError, load_audio,
                               missing_seconds, save_wav)
from tacotron.audio.postprocess import loudness_normalize
from tacotron.audio.vad import SileroVad, speech_regions
from tacotron.config import Config
from tacotron.data.prepare import NotUTF8, read_text_file
from tacotron.data.recordings.cutting import cut_utterances, refine_regions, snap_to_quiet
from tacotron.data.recordings.report import write_report
from tacotron.data.recordings.scoring import Features, frame_powers, score, snr_db
from tacotron.errors import UserError
from tacotron.files import append_lines, atomic_copy, atomic_write_text, remove_stale_temp_files
from tacotron.text import detect_language, get_frontend

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".webm",
                  ".aif", ".aiff", ".wma"}
STATE_VERSION = 3
# The noise floor of a file: this percentile of its 32 ms frame powers (there are always pauses).
NOISE_PERCENTILE = 10
# A frame is loud when its power is this many dB above the noise floor (for non-speech stretches).
LOUD_ABOVE_NOISE_DB = 20.0
FRAME_SECONDS = 0.032  # the VAD's window: powers are measured on the same grid
QUIET_FRAME_SECONDS = 0.01  # frames in which clip edges look for the quietest point of a pause


@dataclass
class Item:
    """One utterance of the data set: one clip, or clips joined back into one sentence."""

    id: str
    source: str
    clip_ids: list[str]
    start: float
    end: float
    speech_seconds: float
    text: str = ""
    recognized: str = ""
    kept: bool = False
    reason: str = ""
    quality: float = 0.0
    scores: dict = field(default_factory=dict)


@dataclass
class MakeResult:
    out: Path
    kept: list[Item]
    rejected: list[Item]
    problems: list[str]
    report: dict

    def summary(self) -> str:
        hours = sum(item.end - item.start for item in self.kept) / 3600
        lines = [*self.problems,
                 f"{len(self.kept)} clips kept ({hours * 60:.1f} min), {len(self.rejected)} rejected; "
                 f"metadata: {self.out / 'metadata.csv'}; report: {self.out / 'report.html'}"]
        return "\n".join(lines)


def collect_sources(paths: list[str | Path]) -> tuple[list[Path], list[str]]:
    """Files as given (any suffix) and the audio files inside folders (recursively, sorted)."""
    sources, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                           and ".work" not in p.parts)
            if not found:
                problems.append(f"{path}: no audio files in this folder")
            sources.extend(found)
        elif path.is_file():
            sources.append(path)
        else:
            problems.append(f"{path}: not found")
    unique = list(dict.fromkeys(source.resolve() for source in sources))
    return unique, problems


def _slug(path: Path) -> str:
    """A stable, unique clip-id prefix: the file name plus a hash of its full path."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-")[:40] or "audio"
    return f"{stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"


class DatasetMaker:
    def __init__(self, out_dir: str | Path, language: str, config: Config, transcript: str | Path | None = None,
                 stress: bool = False, progress: bool = True, say: Callable[[str], None] = print):
        if language not in ("en", "ru"):
            raise UserError(f"--lang must be en or ru, got {language!r}")
        if stress and language != "ru":
            raise UserError("--stress marks Russian stress: use it with --lang ru")
        self.out = Path(out_dir)
        self.language = language
        self.config = config
        self.settings = config.dataset
        self.transcript_path = Path(transcript) if transcript else None
        self.stress = stress
        self.progress = progress
        self.say = say
        self.work = self.out / ".work"
        self.clips_dir = self.out / "clips"
        self.wavs_dir = self.out / "wavs"
        self.sample_rate = config.audio.sample_rate
        self.frontend = get_frontend(language, "characters")
        self.timings = {"audio_seconds": 0.0, "decode_seconds": 0.0, "vad_seconds": 0.0,
                        "asr_audio_seconds": 0.0, "asr_seconds": 0.0}
        self._vad: SileroVad | None = None
        self._recognizer = None

    # ------------------------------------------------------------------ stage 1: cut
    def _fingerprint(self, path: Path) -> dict:
        stat = path.stat()
        cutting = {name: getattr(self.settings, name) for name in (
            "min_seconds", "max_seconds", "vad_threshold", "min_silence_seconds", "cut_pause_seconds",
            "padding_seconds", "quiet_margin_db", "edge_search_seconds", "edge_above_noise_db",
            "edge_bridge_seconds", "loudness_lufs", "non_speech_min_seconds")}
        return {"version": STATE_VERSION, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "sample_rate": self.sample_rate, "cutting": cutting}

    def _state_path(self, slug: str) -> Path:
        return self.work / f"{slug}.json"

    def _asr_path(self, slug: str) -> Path:
        return self.work / f"{slug}.asr.jsonl"

    def cut_source(self, path: Path) -> dict:
        """The cached state of one source file, made now if it is missing or stale."""
        slug = _slug(path)
        fingerprint = self._fingerprint(path)
        state_path = self._state_path(slug)
        if state_path.is_file():
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("fingerprint") == fingerprint:
                return state
        for stale in self.clips_dir.glob(f"{slug}_*.wav"):
            stale.unlink()
        self._asr_path(slug).unlink(missing_ok=True)
        state = {"fingerprint": fingerprint, "source": str(path), "slug": slug, "seconds": 0.0,
                 "error": "", "clips": [], "non_speech": []}
        try:
            self._cut(path, slug, state)
        except AudioLoadError as error:
            state["error"] = error.reason
        atomic_write_text(state_path, json.dumps(state, ensure_ascii=False, indent=1))
        return state

    def _cut(self, path: Path, slug: str, state: dict) -> None:
        if path.stat().st_size == 0:
            raise AudioLoadError(path, "empty file (0 bytes)")
        started = time.perf_counter()
        original, info = load_audio(path, self.sample_rate)
        self.timings["decode_seconds"] += time.perf_counter() - started
        state["seconds"] = info.seconds
        missing = missing_seconds(path)
        if missing > TRUNCATION_TOLERANCE_SECONDS:  # reported; what the file holds is still used
            state["missing_seconds"] = round(missing, 2)
        self.timings["audio_seconds"] += info.seconds
        if original.size == 0:
            raise AudioLoadError(path, "a 0-second recording (no samples)")
        waveform = loudness_normalize(original, self.sample_rate, self.settings.loudness_lufs)
        if self._vad is None:
            self._vad = SileroVad()
        started = time.perf_counter()
        probabilities = self._vad.speech_probabilities(waveform, self.sample_rate)
        self.timings["vad_seconds"] += time.perf_counter() - started
        frame_seconds = SileroVad.frame_seconds
        # Short regions too: one 32 ms window on the vowel of "Как" may be all Silero hears of a
        # word; refined on energy it reaches the next region. Short ones are dropped after that.
        regions = speech_regions(probabilities, frame_seconds, self.settings.vad_threshold,
                                 self.settings.min_silence_seconds, 0.0)
        # The same 32 ms grid as the detector's windows (their counts can differ by one after resampling).
        powers = frame_powers(waveform, self.sample_rate, frame_seconds, len(probabilities))
        noise_power = float(np.percentile(powers, NOISE_PERCENTILE))
        state["noise_db"] = round(10 * np.log10(max(noise_power, 1e-12)), 1)
        state["non_speech"] = self._non_speech(powers, probabilities, noise_power, frame_seconds)
        fine_powers = frame_powers(waveform, self.sample_rate, QUIET_FRAME_SECONDS)
        fine_noise_db = 10 * np.log10(max(float(np.percentile(fine_powers, NOISE_PERCENTILE)), 1e-12))
        regions = refine_regions(regions, 10 * np.log10(np.maximum(fine_powers, 1e-12)), QUIET_FRAME_SECONDS,
                                 fine_noise_db + self.settings.edge_above_noise_db,
                                 self.settings.edge_search_seconds, self.settings.edge_bridge_seconds,
                                 self.settings.min_silence_seconds, self.settings.min_silence_seconds)
        if not regions:
            raise AudioLoadError(path, f"no speech found in {info.seconds:.1f} s (silence or noise only)")
        cuts = cut_utterances(regions, info.seconds, self.settings.min_seconds, self.settings.max_seconds,
                              self.settings.cut_pause_seconds, self.settings.padding_seconds)
        snap_to_quiet(cuts, fine_powers, QUIET_FRAME_SECONDS, self.settings.padding_seconds,
                      self.settings.quiet_margin_db)
        speech = probabilities >= self.settings.vad_threshold
        for number, cut in enumerate(cuts, start=1):
            clip_id = f"{slug}_{number:04d}"
            first, last = int(cut.start * self.sample_rate), int(cut.end * self.sample_rate)
            save_wav(self.clips_dir / f"{clip_id}.wav", waveform[first:last], self.sample_rate)
            frames = slice(int(cut.speech_start / frame_seconds), int(np.ceil(cut.speech_end / frame_seconds)))
            speech_powers = powers[frames][speech[frames]]
            clipped = np.count_nonzero(np.abs(original[first:last]) >= CLIP_LEVEL) / max(last - first, 1)
            state["clips"].append({
                "id": clip_id, **{key: round(value, 3) for key, value in asdict(cut).items() if key != "problem"},
                "problem": cut.problem,
                "snr_db": round(snr_db(float(speech_powers.mean()) if speech_powers.size else 0.0, noise_power), 1),
                "clipped_fraction": float(clipped),
            })

    def _non_speech(self, powers: np.ndarray, probabilities: np.ndarray, noise_power: float,
                    frame_seconds: float) -> list[dict]:
        """Stretches of loud sound the detector does not call speech (music, noise), with their level."""
        loud = (10 * np.log10(np.maximum(powers, 1e-12) / max(noise_power, 1e-12)) >= LOUD_ABOVE_NOISE_DB)
        candidate = loud & (probabilities < self.settings.vad_threshold)
        stretches, start = [], None
        for index, flag in enumerate([*candidate, False]):
            if flag and start is None:
                start = index
            elif not flag and start is not None:
                if (index - start) * frame_seconds >= self.settings.non_speech_min_seconds:
                    stretches.append({"start": round(start * frame_seconds, 2), "end": round(index * frame_seconds, 2),
                                      "speech_probability": round(float(probabilities[start:index].mean()), 3)})
                start = None
        return stretches

    # ------------------------------------------------------------------ stage 2: recognize
    def _recognizer_for(self):
        if self._recognizer is None:
            from tacotron.audio.recognizer import Recognizer

            self._recognizer = Recognizer(self.settings.asr_model or None, self.language,
                                          threads=self.settings.asr_threads)
        return self._recognizer

    def _model_name(self) -> str:
        return self.settings.asr_model or "default"

    def _read_asr(self, slug: str) -> dict[str, dict]:
        path = self._asr_path(slug)
        if not path.is_file():
            return {}
        records = {}
        # Records end at "\n" only: a recognized text may hold U+2028 or U+0085 unescaped
        # (ensure_ascii=False), which str.splitlines would take for the end of its record.
        for line in path.read_text(encoding="utf-8").split("\n"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the last line of a run killed while writing it
                continue
            if record.get("model") == self._model_name():
                records[record["id"]] = record
        return records

    def recognize(self, states: list[dict]) -> dict[str, dict]:
        """ASR records of every usable clip, recognizing the ones not cached yet.

        Whisper encodes a fixed 30 s window whatever the input's length, so clips are packed, with
        dataset.asr_gap_seconds of silence between them, into windows of up to
        dataset.asr_window_seconds and each word goes back to the clip its middle falls in.
        """
        records: dict[str, dict] = {}
        todo = []
        for state in states:
            cached = self._read_asr(state["slug"])
            records.update(cached)
            todo += [(state["slug"], clip) for clip in state["clips"] if not clip["problem"] and clip["id"] not in cached]
        if not todo:
            return records
        recognizer = self._recognizer_for()
        gap = np.zeros(int(self.settings.asr_gap_seconds * self.sample_rate), dtype=np.float32)
        window_samples = int(self.settings.asr_window_seconds * self.sample_rate)
        bar = tqdm(total=len(todo), desc="recognizing clips", unit="clip", disable=not self.progress)
        index = 0
        while index < len(todo):
            pieces, members, length = [], [], 0
            while index < len(todo):
                slug, clip = todo[index]
                waveform, _ = soundfile.read(self.clips_dir / f"{clip['id']}.wav", dtype="float32")
                if pieces and length + len(gap) + waveform.size > window_samples:
                    break
                if pieces:
                    pieces.append(gap)
                    length += gap.size
                members.append((slug, clip, length / self.sample_rate, (length + waveform.size) / self.sample_rate))
                pieces.append(waveform)
                length += waveform.size
                index += 1
            started = time.perf_counter()
            transcript = recognizer.transcribe(np.concatenate(pieces), self.sample_rate)
            self.timings["asr_seconds"] += time.perf_counter() - started
            self.timings["asr_audio_seconds"] += sum(end - start for _, _, start, end in members)
            window: dict[str, list[str]] = {}  # slug -> its clips' records, appended together
            for slug, clip, start, end in members:
                words = [word for word in transcript.words if start <= (word[1] + word[2]) / 2 < end + gap.size / self.sample_rate / 2]
                probabilities = [max(word[3], 1e-6) for word in words]
                record = {"id": clip["id"], "model": self._model_name(), "text": " ".join(word[0] for word in words),
                          "avg_logprob": float(np.mean(np.log(probabilities))) if words else float("-inf"),
                          # Whisper gives it per 30 s window: it describes a clip only when alone there.
                          "no_speech_prob": transcript.no_speech_prob if len(members) == 1 else None}
                window.setdefault(slug, []).append(json.dumps(record, ensure_ascii=False))
                records[clip["id"]] = record
            # A window's records in one write (per source): a run killed now keeps the whole window
            # or none of it, so the resumed run packs the clips left into the same windows as an
            # uninterrupted run would, and hears the same words.
            for slug, lines in window.items():
                append_lines(self._asr_path(slug), lines, sync=True)
            bar.update(len(members))
        bar.close()
        return records

    # ------------------------------------------------------------------ stage 3: assemble
    def _read_transcript(self, problems: list[str]) -> str | None:
        if self.transcript_path is None:
            return None
        path = self.transcript_path
        if not path.is_file():
            raise UserError(f"transcript not found: {path}")
        try:
            text = read_text_file(path)
        except NotUTF8 as error:
            raise UserError(f"transcript {error}") from None
        if not text.strip():
            problems.append(f"{path}: the transcript is empty; the recognizer's text is used instead")
            return None
        found = detect_language([text])
        if found != self.language:
            problems.append(f"{path}: the transcript is in the wrong language (its letters are {found!r}, "
                            f"--lang is {self.language!r}); the recognizer's text is used instead")
            return None
        return text

    def _items(self, states: list[dict], records: dict[str, dict], transcript: str | None) -> list[Item]:
        clips = [(state, clip) for state in states for clip in state["clips"]]
        usable = [(state, clip) for state, clip in clips if not clip["problem"] and clip["id"] in records]
        items = [Item(clip["id"], state["source"], [clip["id"]], clip["start"], clip["end"],
                      clip["speech_end"] - clip["speech_start"], reason=clip["problem"])
                 for state, clip in clips if clip["problem"]]
        if transcript is None:
            for state, clip in usable:
                text = records[clip["id"]]["text"]
                items.append(Item(clip["id"], state["source"], [clip["id"]], clip["start"], clip["end"],
                                  clip["speech_end"] - clip["speech_start"], text=text, recognized=text))
            return items
        from tacotron.data.recordings.transcript_alignment import align_transcript, split_clauses

        clauses = split_clauses(transcript, self.language)
        aligned = align_transcript(clauses, [records[clip["id"]]["text"] for _, clip in usable],
                                   [clip["speech_end"] - clip["speech_start"] for _, clip in usable],
                                   self.settings.max_seconds, self.language)
        groups: dict[int, list] = {}
        for (state, clip), match in zip(usable, aligned):
            if match is None:
                items.append(Item(clip["id"], state["source"], [clip["id"]], clip["start"], clip["end"],
                                  clip["speech_end"] - clip["speech_start"],
                                  recognized=records[clip["id"]]["text"],
                                  reason="no transcript text matches this clip"))
            else:
                groups.setdefault(match.group, []).append((state, clip, match.text))
        for members in groups.values():
            state, first, text = members[0]
            # Joined clips must come from one file: a sentence never spans two recordings.
            if len({member[0]["source"] for member in members}) > 1:
                members = members[:1]
            last = members[-1][1]
            items.append(Item(first["id"], state["source"], [member[1]["id"] for member in members],
                              first["start"], last["end"],
                              sum(member[1]["speech_end"] - member[1]["speech_start"] for member in members),
                              text=text, recognized=" ".join(records[member[1]["id"]]["text"] for member in members)))
        return items

    def _score(self, items: list[Item], states: list[dict], records: dict[str, dict],
               with_transcript: bool) -> None:
        from tacotron.text.error_rate import character_error_rate

        clip_info = {clip["id"]: clip for state in states for clip in state["clips"]}
        candidates = [item for item in items if not item.reason]
        for item in candidates:
            unknown = self.frontend.unknown_characters(self.frontend.normalize(item.text))
            if not item.text.strip():
                item.reason = "the recognizer heard no words"
            elif unknown:
                item.reason = "characters the front end cannot speak: " + ", ".join(map(repr, unknown))
        candidates = [item for item in candidates if not item.reason]
        rates = [len(self.frontend.normalize(item.text)) / max(item.speech_seconds, 1e-6) for item in candidates]
        median_cps = statistics.median(rates) if rates else 0.0
        errors = {item.id: character_error_rate(item.text, item.recognized, language=self.language)
                  for item in candidates} if with_transcript else {}
        median_error = statistics.median(errors.values()) if errors else 0.0
        for item in candidates:
            members = [clip_info[clip_id] for clip_id in item.clip_ids]
            asr = [records[clip_id] for clip_id in item.clip_ids]
            features = Features(
                speech_seconds=item.speech_seconds,
                chars=len(self.frontend.normalize(item.text)),
                no_speech_prob=max((record["no_speech_prob"] for record in asr
                                    if record["no_speech_prob"] is not None), default=None),
                avg_logprob=float(np.mean([record["avg_logprob"] for record in asr])),
                clipped_fraction=max(clip["clipped_fraction"] for clip in members),
                snr_db=min(clip["snr_db"] for clip in members),
                mismatch=errors[item.id] - median_error if with_transcript else None)
            quality = score(features, median_cps, self.settings)
            item.quality, item.scores = quality.quality, quality.scores
            item.kept = quality.quality >= self.settings.min_quality
            if not item.kept:
                item.reason = quality.reason(features, median_cps)

    def _write_wavs(self, kept: list[Item]) -> None:
        """wavs/ID.wav of every kept item, each replaced atomically (a hard link to its clip where it
        can be), so that the metadata.csv of the last run stays usable until the new one is written;
        the wavs it no longer lists go after that (_remove_unlisted_wavs)."""
        self.wavs_dir.mkdir(parents=True, exist_ok=True)
        for item in kept:
            target = self.wavs_dir / f"{item.id}.wav"
            if len(item.clip_ids) == 1:
                source = self.clips_dir / f"{item.id}.wav"
                if target.is_file() and os.path.samefile(source, target):
                    continue
                atomic_copy(source, target)
            else:
                joined = np.concatenate([soundfile.read(self.clips_dir / f"{clip_id}.wav", dtype="float32")[0]
                                         for clip_id in item.clip_ids])
                save_wav(target, joined, self.sample_rate)  # replaces a link to a clip, never writes into it

    def _remove_unlisted_wavs(self, kept: list[Item]) -> None:
        wanted = {item.id for item in kept}
        for path in self.wavs_dir.glob("*.wav"):
            if path.stem not in wanted:
                path.unlink()

    def make(self, paths: list[str | Path]) -> MakeResult:
        started = time.perf_counter()
        sources, problems = collect_sources(paths)
        if not sources:
            raise UserError("no audio to process: " + "; ".join(problems or ["no files given"]))
        self.work.mkdir(parents=True, exist_ok=True)
        for folder in (self.out, self.work, self.clips_dir, self.wavs_dir):  # what a run killed mid-write left
            remove_stale_temp_files(folder)
        # Read before anything is cut or recognized: a transcript that cannot be read stops the run
        # at once, not after an hour of recognition.
        transcript_problems: list[str] = []
        transcript = self._read_transcript(transcript_problems)
        states = [self.cut_source(path) for path in tqdm(sources, desc="cutting", unit="file",
                                                         disable=not self.progress)]
        for state in states:
            if state["error"]:
                problems.append(f"{state['source']}: {state['error']}")
            if state.get("missing_seconds"):
                problems.append(f"{state['source']}: truncated audio: the WAV header declares "
                                f"{state['seconds'] + state['missing_seconds']:.1f} s, the file holds "
                                f"{state['seconds']:.1f} s (a copy or download that did not finish); "
                                "what it holds is used")
            for stretch in state["non_speech"]:
                problems.append(f"{state['source']}: {stretch['start']:.1f}-{stretch['end']:.1f} s rejected: "
                                f"loud sound that is not speech (music or noise; speech probability "
                                f"{stretch['speech_probability']:.2f})")
        usable_states = [state for state in states if not state["error"]]
        records = self.recognize(usable_states)
        problems += transcript_problems
        items = self._items(usable_states, records, transcript)
        self._score(items, usable_states, records, transcript is not None)
        kept = sorted((item for item in items if item.kept), key=lambda item: item.id)
        rejected = sorted((item for item in items if not item.kept), key=lambda item: item.id)
        if self.stress:
            from tacotron.text.stress import Accentor

            accentor = Accentor()
            for item in kept:
                item.text = accentor(item.text)
        self._write_wavs(kept)
        lines = []
        for item in kept:
            text = " ".join(item.text.replace("|", ",").split())
            lines.append(f"{item.id}|{text}|{self.frontend.normalize(text)}\n")
        atomic_write_text(self.out / "metadata.csv", "".join(lines))
        self._remove_unlisted_wavs(kept)
        self.timings["total_seconds"] = time.perf_counter() - started
        report = write_report(self.out, self.language, states, kept, rejected, problems, self.timings,
                              asr_model=self.settings.asr_model or "whisper-base (offline default)",
                              transcript=str(self.transcript_path) if transcript is not None else None)
        return MakeResult(self.out, kept, rejected, problems, report)
