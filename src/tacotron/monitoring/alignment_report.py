"""`tacotron diagnose CHECKPOINT [--data DIR] [--out DIR]`: one HTML page that says whether a
model reads its text, and where it does not.

It holds: the checkpoint's validation metrics and their history (metrics.jsonl), alignment
pictures teacher-forced and free-running for validation utterances and the long held-out
sentences of the data set, the quality checks each one fails with the reason (the thresholds of
synthesis quality control), and the run's events (phases, auto-fix actions, alerts).
The free-running pass is the raw model: no text splitting, no retries, no attention window.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tacotron.audio.io import load_audio
from tacotron.audio.mel import MelSpectrogram
from tacotron.files import atomic_write_text
from tacotron.inference import Synthesizer
from tacotron.model.alignment_metrics import AlignmentScores, score_alignment
from tacotron.model.tacotron2 import TacotronOutput
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.acoustic import load_voice
from tacotron.runs.events import read_events
from tacotron.monitoring.plots import alignment_png

RAW_MODEL = ["inference.max_segment_chars=100000", "inference.max_retries=0",
             "inference.attention_constraint=off"]


def teacher_forced(synthesizer: Synthesizer, text: str, mel: torch.Tensor) -> TacotronOutput:
    """The model's output (batch of one) when fed the real log-mel [n_mels, frames] of `text`,
    padded with silence to a whole number of decoder steps."""
    config = synthesizer.config
    r = config.model.reduction_factor
    padded = torch.full((1, mel.size(0), math.ceil(mel.size(1) / r) * r),
                        math.log(config.audio.log_floor))
    padded[0, :, : mel.size(1)] = mel
    ids = synthesizer.frontend.encode(text)
    device = synthesizer.device  # every input where the model is (a CUDA model takes no CPU text)
    speaker = synthesizer.speaker_id()  # a multi-speaker model's default speaker
    with torch.no_grad():
        return synthesizer.model(torch.tensor([ids], device=device),
                                 torch.tensor([len(ids)], device=device), padded.to(device),
                                 torch.tensor([mel.size(1)], device=device),
                                 speakers=None if speaker is None else torch.tensor([speaker], device=device))


def teacher_forced_alignment(synthesizer: Synthesizer, text: str, mel: torch.Tensor) -> np.ndarray:
    """Attention of the model fed the real log-mel [n_mels, frames] of `text`: [steps, N]."""
    r = synthesizer.config.model.reduction_factor
    output = teacher_forced(synthesizer, text, mel)
    return output.alignments[0, : math.ceil(mel.size(1) / r)].float().cpu().numpy()


def mel_of_wav(synthesizer: Synthesizer, wav_path: Path) -> torch.Tensor:
    waveform, _ = load_audio(wav_path, synthesizer.config.audio.sample_rate)
    return MelSpectrogram(synthesizer.config.audio)(torch.from_numpy(waveform))


@dataclass
class Diagnosis:
    kind: str  # "validation" | "held-out"
    text: str
    forced: AlignmentScores | None
    free: AlignmentScores
    failures: list[str]
    picture: str  # base64 PNG


def diagnose_sentence(synthesizer: Synthesizer, kind: str, text: str,
                      mel: torch.Tensor | None) -> Diagnosis:
    result = synthesizer.synthesize(text)
    segment = result.segments[0]
    panels = []
    forced_scores = None
    if mel is not None:
        forced = teacher_forced_alignment(synthesizer, text, mel)
        forced_scores = score_alignment(torch.from_numpy(forced))
        panels.append((f"teacher-forced (diagonality {forced_scores.diagonality:.2f})", forced))
    panels.append((f"free-running (diagonality {segment.scores.diagonality:.2f})",
                   segment.alignment))
    failures = list(segment.failures)  # synthesis quality control's checks
    if segment.scores.skips:
        failures.append(f"{segment.scores.skips} skip(s): attention jumped forward over words")
    if segment.scores.repeats:
        failures.append(f"{segment.scores.repeats} repeat(s): attention went back over words")
    picture = alignment_png(panels, text[:90])
    return Diagnosis(kind, text, forced_scores, segment.scores, failures,
                     base64.b64encode(picture).decode("ascii"))


def diagnose(checkpoint: str | Path, data_dir: str | Path | None = None,
             out_dir: str | Path | None = None, max_validation: int = 4,
             max_held_out: int = 4, overrides: list[str] | None = None) -> Path:
    """Write OUT/diagnosis.html (OUT defaults to the run folder's `diagnosis/`); returns it."""
    path = ckpt.resolve_checkpoint(checkpoint)
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    out = Path(out_dir) if out_dir else run_dir / "diagnosis"
    provenance = load_voice(path).provenance  # step, val_metrics
    synthesizer = Synthesizer.from_checkpoint(path, overrides=[*RAW_MODEL, *(overrides or [])])
    results: list[Diagnosis] = []
    if data_dir is not None:
        from tacotron.data.corpus import read_test_sentences
        from tacotron.data.prepare import load_prepared

        prepared = load_prepared(data_dir)
        for utterance in prepared.val[:max_validation]:
            mel = torch.from_numpy(np.load(utterance.mel_path))
            results.append(diagnose_sentence(synthesizer, "validation", utterance.text, mel))
        held_out = sorted(read_test_sentences(data_dir), key=lambda s: -len(s.text))
        for sentence in held_out[:max_held_out]:
            wav = Path(data_dir) / "test_wavs" / f"{sentence.id}.wav"
            mel = mel_of_wav(synthesizer, wav) if wav.is_file() else None
            results.append(diagnose_sentence(synthesizer, "held-out", sentence.text, mel))
    history = []
    metrics_file = run_dir / "metrics.jsonl"
    if metrics_file.is_file():
        history = [json.loads(line) for line in metrics_file.read_text().splitlines() if line]
    page = render(path, provenance, history, results, read_events(run_dir))
    out.mkdir(parents=True, exist_ok=True)
    report = out / "diagnosis.html"
    atomic_write_text(report, page)
    return report


def render(path: Path, provenance: dict, history: list[dict], results: list[Diagnosis],
           events) -> str:
    esc = html.escape
    metrics = provenance.get("val_metrics") or {}
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{v:.4f}</td></tr>" for k, v in metrics.items()
                   if isinstance(v, (int, float)))
    keys = ["step", "diagonality", "focus_rate", "coverage", "mel_l1", "gate_accuracy",
            "stop_error"]
    trend = "".join("<tr>" + "".join(f"<td>{record.get(k, ''):.4g}</td>"
                                     if isinstance(record.get(k), float)
                                     else f"<td>{esc(str(record.get(k, '')))}</td>" for k in keys)
                    + "</tr>" for record in history[-20:])
    failed = [r for r in results if r.failures]
    sentences = []
    for r in results:
        verdict = ("<ul class='bad'>" + "".join(f"<li>{esc(f)}</li>" for f in r.failures)
                   + "</ul>") if r.failures else "<p class='ok'>passes every check</p>"
        sentences.append(f"<section><h3>{esc(r.kind)}: {esc(r.text)}</h3>{verdict}"
                         f"<img src='data:image/png;base64,{r.picture}'></section>")
    timeline = "".join(f"<tr><td>{e.step}</td><td>{esc(e.kind)}</td><td>{esc(e.summary())}</td>"
                       "</tr>" for e in events if e.kind not in ("validation", "checkpoint"))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>diagnosis of {esc(path.name)}</title><style>
body{{font-family:sans-serif;max-width:1100px;margin:auto}} td{{padding:2px 8px}}
.bad{{color:#b00}} .ok{{color:#070}} img{{max-width:100%}}</style></head><body>
<h1>Diagnosis: {esc(str(path))} (step {'?' if provenance.get('step') is None else provenance['step']})</h1>
<h2>Summary</h2><p>{len(results)} sentences checked, {len(failed)} flagged.</p>
<h2>Validation metrics of this checkpoint</h2><table>{rows}</table>
<h2>Validation history (last 20)</h2><table><tr>{''.join(f'<th>{k}</th>' for k in keys)}</tr>
{trend}</table>
<h2>Sentences</h2>{''.join(sentences) or '<p>(pass --data DIR to check sentences)</p>'}
<h2>Events</h2><table><tr><th>step</th><th>kind</th><th>what</th></tr>{timeline}</table>
</body></html>"""
