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

