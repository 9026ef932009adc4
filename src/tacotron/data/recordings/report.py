"""report.json and report.html of `tacotron dataset make`: what was kept, what was rejected and why,
total hours, a histogram of clip durations, and the 20 worst kept clips with players to listen to."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tacotron.files import atomic_write_text

WORST_KEPT = 20
HISTOGRAM_BIN_SECONDS = 1.0


def seconds_per_hour(seconds: float, audio_seconds: float) -> float | None:
    """Processing speed: seconds of work per hour of audio = seconds / audio_seconds * 3600."""
    return round(seconds / audio_seconds * 3600, 1) if audio_seconds > 0 else None


def duration_histogram(durations: list[float]) -> list[dict]:
    """Counts of clips per HISTOGRAM_BIN_SECONDS-wide bin of duration."""
    if not durations:
        return []
    top = int(np.ceil(max(durations) / HISTOGRAM_BIN_SECONDS))
    counts, edges = np.histogram(durations, bins=max(top, 1), range=(0, max(top, 1) * HISTOGRAM_BIN_SECONDS))
    return [{"from": float(edges[index]), "to": float(edges[index + 1]), "count": int(count)}
            for index, count in enumerate(counts)]


def write_report(out: Path, language: str, states: list[dict], kept: list, rejected: list, problems: list[str],
                 timings: dict, asr_model: str, transcript: str | None) -> dict:
    durations = [item.end - item.start for item in kept]
    worst = sorted(kept, key=lambda item: item.quality)[:WORST_KEPT]
    report = {
        "language": language,
        "asr_model": asr_model,
        "transcript": transcript,
        "sources": [{"path": state["source"], "seconds": round(state["seconds"], 2), "error": state["error"],
                     "clips": len(state["clips"])} for state in states],
        "problems": problems,
        "kept_count": len(kept),
        "rejected_count": len(rejected),
        "kept_hours": round(sum(durations) / 3600, 4),
        "duration_histogram": duration_histogram(durations),
        "worst_kept": [item.id for item in worst],
        "timings": {**{key: round(value, 2) for key, value in timings.items()},
                    "vad_seconds_per_audio_hour": seconds_per_hour(timings["vad_seconds"], timings["audio_seconds"]),
                    "asr_seconds_per_audio_hour": seconds_per_hour(timings["asr_seconds"],
                                                                   timings["audio_seconds"])},
        "kept": [asdict(item) for item in kept],
        "rejected": [asdict(item) for item in rejected],
    }
    atomic_write_text(out / "report.json", json.dumps(report, ensure_ascii=False, indent=1))
    atomic_write_text(out / "report.html", _html(report, worst, rejected))
    return report


def _html(report: dict, worst: list, rejected: list) -> str:
    escape = html.escape
    peak = max((row["count"] for row in report["duration_histogram"]), default=1) or 1
    bars = "".join(
        f'<div class="bar"><span>{row["from"]:.0f}-{row["to"]:.0f} s</span>'
        f'<i style="width:{300 * row["count"] / peak:.0f}px"></i> {row["count"]}</div>'
        for row in report["duration_histogram"])
    problems = "".join(f"<li>{escape(line)}</li>" for line in report["problems"]) or "<li>none</li>"
    worst_rows = "".join(
        f'<tr><td>{escape(item.id)}</td><td>{item.quality:.2f}</td><td>{escape(item.text)}</td>'
        f'<td>{escape(item.recognized)}</td><td><audio controls preload="none" src="wavs/{escape(item.id)}.wav">'
        f'</audio></td></tr>' for item in worst)
    rejected_rows = "".join(
        f'<tr><td>{escape(item.id)}</td><td>{item.end - item.start:.1f}</td><td>{escape(item.reason)}</td>'
        f'<td>{escape(item.recognized)}</td><td><audio controls preload="none" src="clips/{escape(item.id)}.wav">'
        f'</audio></td></tr>' for item in rejected)
    timings = report["timings"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>dataset report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{border-bottom:1px solid #ddd;padding:4px;text-align:left}}
.bar i{{display:inline-block;height:12px;background:#47a;margin:0 6px}} .bar span{{display:inline-block;width:70px}}</style>
</head><body><h1>Dataset report ({escape(report["language"])})</h1>
<p>{report["kept_count"]} clips kept, {report["kept_hours"] * 60:.1f} minutes; {report["rejected_count"]} rejected.
Recognizer: {escape(report["asr_model"])}. Transcript: {escape(report["transcript"] or "none (recognized text)")}.
Speed: VAD {timings["vad_seconds_per_audio_hour"]} s, ASR {timings["asr_seconds_per_audio_hour"]} s per hour of audio.</p>
<h2>Problems</h2><ul>{problems}</ul>
<h2>Durations of kept clips</h2>{bars}
<h2>The {len(worst)} worst kept clips</h2><table><tr><th>id</th><th>quality</th><th>text</th><th>recognized</th>
<th></th></tr>{worst_rows}</table>
<h2>Rejected clips</h2><table><tr><th>id</th><th>s</th><th>reason</th><th>recognized</th><th></th></tr>
{rejected_rows}</table></body></html>
"""
