"""`tacotron evaluate`: evaluate a checkpoint on held-out sentences and write evaluation.json,
evaluation.html (text, what the recognizer heard, audio of the voice and the source, attention
alignment) and the audio the page plays (voice/ID.wav, source/ID.wav)."""

from __future__ import annotations

import base64
import html
import json
import shutil
import time
from pathlib import Path

from tacotron.audio.io import save_wav
from tacotron.audio.recognizer import Recognizer
from tacotron.evaluation.intelligibility import Evaluation, Heard, evaluate_sentences, held_out_sentences
from tacotron.files import atomic_write_text
from tacotron.inference import Synthesizer
from tacotron.text.error_rate import align_words
from tacotron.runs import checkpoint as ckpt
from tacotron.monitoring.plots import alignment_png


def evaluate_checkpoint(checkpoint: str | Path, data_dir: str | Path | None = None,
                        sentences_file: str | Path | None = None, asr_model: str | None = None,
                        out_dir: str | Path | None = None, vocoder: str | None = "default",
                        limit: int | None = None, asr_threads: int = 2, progress: bool = True,
                        overrides: list[str] | None = None) -> dict:
    """Evaluate a checkpoint (file or run folder) and write the report to out_dir (default
    RUN/evaluation, or STEM-evaluation beside a checkpoint file); returns what evaluation.json holds.
    `overrides`: inference.* and postprocess.* settings of the synthesizer."""
    path = ckpt.resolve_checkpoint(checkpoint)
    sentences = held_out_sentences(data_dir, sentences_file, limit)
    synthesizer = Synthesizer.from_checkpoint(path, overrides=overrides, vocoder=vocoder)
    recognizer = Recognizer(asr_model, language=synthesizer.frontend.language, threads=asr_threads)
    started = time.monotonic()
    evaluation = evaluate_sentences(synthesizer, recognizer, sentences, progress=progress, keep_audio=True)
    if out_dir is None:  # beside the run, one folder per checkpoint file so evaluations never mix
        given = Path(checkpoint)
        out_dir = given / "evaluation" if given.is_dir() else path.parent / f"{path.stem}-evaluation"
    out_dir = Path(out_dir)
    report = {"checkpoint": str(path), "step": synthesizer.checkpoint_step,
              "report_dir": str(out_dir), "data": str(data_dir) if data_dir else None,
              "sentences_file": str(sentences_file) if sentences_file else None,
              "asr_model": recognizer.model_name, "vocoder": synthesizer.vocoder.name,
              "seconds": round(time.monotonic() - started, 1), **evaluation.to_dict()}
    write_audio(out_dir, evaluation, sentences, synthesizer.sample_rate)
    atomic_write_text(out_dir / "evaluation.json", json.dumps(report, indent=2, ensure_ascii=False))
    atomic_write_text(out_dir / "evaluation.html", render_html(report, evaluation))
    return report


def write_audio(out_dir: Path, evaluation: Evaluation, sentences, sample_rate: int) -> None:
    """voice/ID.wav for every sentence and a copy of its source recording as source/ID.wav, so the
    page's players work wherever the folder is moved."""
    sources = {sentence.id: sentence.source for sentence in sentences}
    for result in evaluation.sentences:
        if result.waveform is not None:
            save_wav(out_dir / "voice" / f"{result.id}.wav", result.waveform, sample_rate)
        if sources.get(result.id) is not None:
            (out_dir / "source").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sources[result.id], out_dir / "source" / f"{result.id}.wav")


def summary_line(summary: dict) -> str:
    """One line a person reads: the voice's WER/CER next to the source's (the recognizer's ceiling)."""
    def figure(key: str, digits: int = 3) -> str:
        value = summary.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    line = f"voice WER {figure('voice_wer')} CER {figure('voice_cer')}"
    if summary.get("sourced_sentences"):
        line += (f" | source WER {figure('source_wer')} CER {figure('source_cer')}"
                 f" | MCD-DTW {figure('mcd_db', 2)} dB, duration ratio {figure('duration_ratio', 2)}")
    if summary.get("voice_mos") is not None:
        line += f" | predicted MOS {figure('voice_mos', 2)} (source {figure('source_mos', 2)})"
    return line + f" | RTF {figure('rtf', 2)} | {summary['sentences']} sentences"


_STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
.sentence{border-top:2px solid #444;margin-top:1.5em;padding-top:.5em}
.skip{color:#b00;text-decoration:line-through}.sub{color:#b60}.ins{color:#06c}.rep{background:#fdd;color:#900}
.words span{margin-right:.3em}img{max-width:100%}audio{height:2em;vertical-align:middle}"""


def _words_html(reference: str, heard: Heard) -> str:
    """The transcript laid over the reference: skipped words struck out, substitutions as
    reference→heard, inserted words in blue, repeated ones on red."""
    parts = []
    for operation, reference_word, heard_word in align_words(reference, heard.normalized).operations:
        if operation == "equal":
            parts.append(f"<span>{html.escape(heard_word)}</span>")
        elif operation == "substitute":
            parts.append(f'<span class="sub">{html.escape(reference_word)}→{html.escape(heard_word)}</span>')
        elif operation == "delete":
            parts.append(f'<span class="skip">{html.escape(reference_word)}</span>')
        else:
            parts.append(f'<span class="ins">+{html.escape(heard_word)}</span>')
    repeated = f' <span class="rep">repeated: {html.escape(" ".join(heard.repeated))}</span>' if heard.repeated else ""
    return f'<div class="words">{"".join(parts)}{repeated}</div>'


def render_html(report: dict, evaluation: Evaluation) -> str:
    esc = html.escape
    summary = report["summary"]
    rows = "".join(f"<tr><th>{esc(key)}</th><td>{esc(str(value))}</td></tr>" for key, value in summary.items())
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>evaluation</title><style>{_STYLE}</style>"
             f"</head><body><h1>Intelligibility</h1><p>{esc(summary_line(summary))}</p>"
             f"<p>checkpoint {esc(report['checkpoint'])}; recognizer {esc(report['asr_model'])}; "
             f"vocoder {esc(report['vocoder'])}; language {esc(evaluation.language)}</p><table>{rows}</table>"]
    for result in evaluation.sentences:
        source_row = ""
        if result.source is not None:
            source_row = (f"<tr><th>source</th><td><audio controls src='source/{esc(result.id)}.wav'></audio></td>"
                          f"<td>{esc(result.source.text)}{_words_html(result.reference, result.source)}</td>"
                          f"<td>{result.source.wer:.2f} / {result.source.cer:.2f}</td></tr>")
        distance = (f"<p>MCD-DTW {result.mcd_db:.2f} dB · duration ratio {result.duration_ratio:.2f}</p>"
                    if result.mcd_db is not None else "")
        picture = ""
        if result.alignments:
            png = alignment_png([(f"segment {number}", alignment)
                                 for number, alignment in enumerate(result.alignments, start=1)])
            picture = f"<img alt='attention alignment' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        parts.append(
            f"<div class='sentence'><h3>{esc(result.id)}: {esc(result.text)}</h3>"
            f"<p>reference (normalized): {esc(result.reference)}</p>"
            f"<table><tr><th></th><th>audio</th><th>heard</th><th>WER / CER</th></tr>"
            f"<tr><th>voice</th><td><audio controls src='voice/{esc(result.id)}.wav'></audio></td>"
            f"<td>{esc(result.voice.text)}{_words_html(result.reference, result.voice)}</td>"
            f"<td>{result.voice.wer:.2f} / {result.voice.cer:.2f}</td></tr>{source_row}</table>"
            f"{distance}{picture}</div>")
    parts.append("</body></html>")
    return "".join(parts)
