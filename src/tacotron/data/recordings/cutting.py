"""From voice activity to utterances: cut at pauses, keep lengths within bounds, pad with natural silence.

A cut is only ever made in a pause the detector found (at least `min_silence_seconds` below its
threshold), so no clip starts or ends inside a word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tacotron.audio.vad import SpeechRegion


@dataclass
class Cut:
    """One utterance: speech_start..speech_end is what the detector heard, start..end adds padding."""

    start: float
    end: float
    speech_start: float
    speech_end: float
    problem: str = ""  # why it cannot be used as it is (too short, too long); empty when usable

    @property
    def speech_seconds(self) -> float:
        return self.speech_end - self.speech_start


def _onset(quiet: np.ndarray, vad_start: int, floor: int, search: int, bridge: int) -> int | None:
    """The first sounding frame of the speech the detector starts at frame vad_start: from the first
    sounding frame at or after it (within search), back over sounding frames and quiet gaps shorter
    than bridge (a "t" closure after a "k" burst), until bridge quiet frames in a row; floor (the end
    of the region before) when the sound reaches it. None when sound goes on more than search frames
    before vad_start (noise or music under the speech: energy cannot tell)."""
    ahead = np.flatnonzero(~quiet[vad_start:min(len(quiet), vad_start + search)])
    if ahead.size == 0:
        return None
    earliest = frame = vad_start + int(ahead[0])
    gap = 0
    while frame > floor:
        frame -= 1
        if not quiet[frame]:
            if frame < vad_start - search:
                return None
            earliest, gap = frame, 0
            continue
        gap += 1
        if gap >= bridge:
            return earliest
    return floor  # no pause between this region and the one before: they are one


def _offset(quiet: np.ndarray, vad_end: int, search: int, bridge: int) -> int | None:
    """The frame after the last sounding frame of the speech the detector ends at frame vad_end: the
    mirror of _onset (a weak final "f" or the release of a final stop is found after a short gap)."""
    behind = np.flatnonzero(~quiet[max(0, vad_end - search):vad_end])
    if behind.size == 0:
        return None
    latest = frame = max(0, vad_end - search) + int(behind[-1])
    gap = 0
    while frame + 1 < len(quiet):
        frame += 1
        if not quiet[frame]:
            if frame >= vad_end + search:
                return None
            latest, gap = frame, 0
            continue
        gap += 1
        if gap >= bridge:
            return latest + 1
    return len(quiet)


def refine_regions(regions: list[SpeechRegion], levels_db: np.ndarray, frame_seconds: float, quiet_db: float,
                   search_seconds: float, bridge_seconds: float, split_seconds: float,
                   min_speech_seconds: float) -> list[SpeechRegion]:
    """The detector's regions with edges moved to where the sound starts and stops (frames of
    frame_seconds quieter than quiet_db are silence), split at silences of split_seconds or more
    inside them, joined where they then touch, and those shorter than min_speech_seconds dropped
    (a click).

    Silero's 32 ms windows and its hysteresis put edges up to ~0.15 s off: onsets late on a
    voiceless "k", "ch", "sh" (it scores them low), ends late by the hysteresis. Its pauses come out
    shorter than they are, so two sentences 0.2 s apart can fall below cut_pause_seconds and be
    joined into one clip. An edge moves at most search_seconds, and stays where the detector put it
    when no silence lies within reach."""
    quiet = levels_db < quiet_db
    search = max(1, int(round(search_seconds / frame_seconds)))
    bridge = max(1, int(round(bridge_seconds / frame_seconds)))
    split = max(1, int(round(split_seconds / frame_seconds)))
    spans: list[list[float]] = []  # [start, end] in seconds
    for region in regions:
        vad_start = min(len(quiet) - 1, int(round(region.start / frame_seconds)))
        vad_end = min(len(quiet), int(round(region.end / frame_seconds)))
        floor = spans[-1][1] if spans else 0.0
        onset = _onset(quiet, vad_start, int(round(floor / frame_seconds)), search, bridge)
        offset = _offset(quiet, vad_end, search, bridge)
        start = max(floor, region.start if onset is None else onset * frame_seconds)
        end = region.end if offset is None else offset * frame_seconds
        if end <= start:  # nothing sounds where the detector heard speech: keep its edges
            start, end = max(floor, region.start), region.end
        # Split at silences inside: runs of at least `split` quiet frames.
        pieces, piece_start, run = [], start, 0
        first, last = int(round(start / frame_seconds)), min(len(quiet), int(round(end / frame_seconds)))
        for frame in range(first, last):
            if quiet[frame]:
                run += 1
                continue
            if run >= split:
                pieces.append([piece_start, (frame - run) * frame_seconds])
                piece_start = frame * frame_seconds
            run = 0
        pieces.append([piece_start, end if run < split else (last - run) * frame_seconds])
        for piece in pieces:
            if piece[1] - piece[0] < frame_seconds / 2:  # a quiet run at an edge the detector put
                continue
            if spans and piece[0] <= spans[-1][1]:  # touches the last piece: one region
                spans[-1][1] = max(spans[-1][1], piece[1])
            else:
                spans.append(piece)
    return [SpeechRegion(start, end) for start, end in spans if end - start >= min_speech_seconds]


def _group(regions: list[SpeechRegion], cut_pause_seconds: float) -> list[list[SpeechRegion]]:
    """Regions separated by a pause shorter than cut_pause_seconds belong to one utterance."""
    groups: list[list[SpeechRegion]] = []
    for region in regions:
        if groups and region.start - groups[-1][-1].end < cut_pause_seconds:
            groups[-1].append(region)
        else:
            groups.append([region])
    return groups


def _span(group: list[SpeechRegion]) -> float:
    return group[-1].end - group[0].start


def _split_long(group: list[SpeechRegion], max_seconds: float) -> list[list[SpeechRegion]]:
    """Split at the longest pause inside until every part fits (a part of one region stays whole)."""
    if _span(group) <= max_seconds or len(group) == 1:
        return [group]
    pauses = [group[index + 1].start - group[index].end for index in range(len(group) - 1)]
    at = int(np.argmax(pauses)) + 1
    return _split_long(group[:at], max_seconds) + _split_long(group[at:], max_seconds)


def _merge_short(groups: list[list[SpeechRegion]], min_seconds: float,
                 max_seconds: float) -> list[list[SpeechRegion]]:
    """A part shorter than min_seconds joins the neighbour across the shorter pause, if the result fits."""
    groups = [list(group) for group in groups]
    index = 0
    while index < len(groups):
        group = groups[index]
        if _span(group) >= min_seconds:
            index += 1
            continue
        before = group[0].start - groups[index - 1][-1].end if index > 0 else float("inf")
        after = groups[index + 1][0].start - group[-1].end if index + 1 < len(groups) else float("inf")
        options = sorted([(before, index - 1), (after, index + 1)])
        for pause, neighbour in options:
            if pause == float("inf"):
                continue
            first, second = sorted((index, neighbour))
            merged = groups[first] + groups[second]
            if _span(merged) <= max_seconds:
                groups[first:second + 1] = [merged]
                index = first  # the merged part may still be short
                break
        else:
            index += 1
    return groups


def cut_utterances(regions: list[SpeechRegion], total_seconds: float, min_seconds: float, max_seconds: float,
                   cut_pause_seconds: float, padding_seconds: float) -> list[Cut]:
    """Utterances from speech regions. Padding is at most half the pause on each side, so that
    neighbouring clips never share audio."""
    groups = []
    for group in _group(regions, cut_pause_seconds):
        groups.extend(_split_long(group, max_seconds))
    groups = _merge_short(groups, min_seconds, max_seconds)
    cuts = []
    for index, group in enumerate(groups):
        speech_start, speech_end = group[0].start, group[-1].end
        room_before = (speech_start - groups[index - 1][-1].end) / 2 if index > 0 else speech_start
        room_after = (groups[index + 1][0].start - speech_end) / 2 if index + 1 < len(groups) \
            else total_seconds - speech_end
        cut = Cut(start=max(0.0, speech_start - min(padding_seconds, room_before)),
                  end=min(total_seconds, speech_end + min(padding_seconds, room_after)),
                  speech_start=speech_start, speech_end=speech_end)
        if cut.speech_seconds < min_seconds:
            cut.problem = f"too short: {cut.speech_seconds:.2f} s of speech < dataset.min_seconds {min_seconds:g}"
        elif cut.speech_seconds > max_seconds:
            cut.problem = (f"too long: {cut.speech_seconds:.2f} s of speech without a pause > "
                           f"dataset.max_seconds {max_seconds:g}")
        cuts.append(cut)
    return cuts


def snap_to_quiet(cuts: list[Cut], powers: np.ndarray, frame_seconds: float, padding_seconds: float,
                  quiet_margin_db: float) -> None:
    """Move each clip edge to the quietest point of the pause beside it (10 ms frames): the detector's
    edges can be ~0.1 s off (a late onset, a weak final "f" it does not hear), and the middle of the
    padding may then fall on a word. The end goes to the latest frame within quiet_margin_db of the
    quietest one in [speech_end, speech_end + 2 padding], the start to the earliest such frame in
    [speech_start - 2 padding, speech_start]; neither crosses the middle of the pause, so neighbouring
    clips never overlap."""
    levels = 10 * np.log10(np.maximum(powers, 1e-12))

    def frame(seconds: float) -> int:
        return min(len(levels), max(0, int(round(seconds / frame_seconds))))

    for index, cut in enumerate(cuts):
        before = (cuts[index - 1].speech_end + cut.speech_start) / 2 if index > 0 else 0.0
        after = (cut.speech_end + cuts[index + 1].speech_start) / 2 if index + 1 < len(cuts) \
            else len(levels) * frame_seconds
        low, high = frame(max(before, cut.speech_start - 2 * padding_seconds)), frame(cut.speech_start)
        if high > low:
            window = levels[low:high]
            quiet = np.flatnonzero(window <= window.min() + quiet_margin_db)
            cut.start = (low + quiet[0]) * frame_seconds
        low, high = frame(cut.speech_end), frame(min(cut.speech_end + 2 * padding_seconds, after))
        if high > low:
            window = levels[low:high]
            quiet = np.flatnonzero(window <= window.min() + quiet_margin_db)
            cut.end = (low + quiet[-1] + 1) * frame_seconds

