"""Intelligibility while training: every `eval.every_validations` validations, the model as it is
speaks a fixed small set of held-out sentences, Whisper transcribes them, and their WER, CER and
MCD-DTW (with DistillMOS installed, also the predicted MOS of the voice and, scored once per run,
of the source recordings) join that validation's metrics (`Callback.validation_figures`: every
callback sees them, whatever its place in the list). `run_callbacks` builds the whole callback list of a training run
(this evaluation and the monitoring sinks) for the CLI, the demo and each tuning trial: it lives
here, above training and monitoring, because training/ cannot import evaluation/."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

from tacotron.audio.recognizer import Recognizer
from tacotron.config import Config
from tacotron.evaluation.intelligibility import Heard, HeldOut, evaluate_sentences, held_out_sentences
from tacotron.inference import Synthesizer
from tacotron.inference.vocoder import load_vocoder
from tacotron.monitoring.sinks import build_callbacks
from tacotron.text import get_frontend
from tacotron.training.callbacks import Callback, RunView, ValidationSample

# The metric names the evaluation adds to a validation record, and the summary figure of each
# (evaluation.intelligibility.summarize). The MOS figures are absent without DistillMOS; the
# recordings' (source_mos) is scored at the first evaluation and repeated as the voice's ceiling.
METRICS = {"wer": "voice_wer", "cer": "voice_cer", "mcd_db": "mcd_db", "duration_ratio": "duration_ratio",
           "mos": "voice_mos", "source_mos": "source_mos"}


def evaluation_sentences(data: Path, validation_ids: list[str], validation_texts: list[str],
                         count: int) -> list[HeldOut]:
    """The fixed evaluation set: the first `count` held-out sentences of the corpus folder `data` when
    it has a test_sentences.csv (eSpeak corpora), else the first validation utterances (their
    recordings wavs/ID.wav as the source, when `data` is an LJSpeech folder)."""
    if (data / "test_sentences.csv").is_file():
        return held_out_sentences(data, limit=count)
    sentences = []
    for utterance_id, text in list(zip(validation_ids, validation_texts))[:count]:
        wav = data / "wavs" / f"{utterance_id}.wav"
        sentences.append(HeldOut(utterance_id, text, wav if wav.is_file() else None))
    return sentences


class IntelligibilityCallback(Callback):
    def __init__(self, config: Config, data: str | Path):
        self.settings = config.eval
        self.data = Path(data)  # the data set folder (or filelist) the run trains on
        self.validations = 0
        self.sentences: list[HeldOut] = []
        self.recognizer: Recognizer | None = None  # loaded at the first evaluation
        self.vocoder = None
        self.heard_sources: dict[str, Heard] = {}  # the recordings' transcripts, made once

    def on_train_start(self, trainer: RunView) -> None:
        val = trainer.data.val
        self.sentences = evaluation_sentences(self.data, [u.id for u in val],
                                              [u.text for u in val], self.settings.sentences)

    def validation_figures(self, trainer: RunView, metrics: dict[str, float],
                           sample: ValidationSample | None) -> dict[str, float]:
        self.validations += 1
        if not self.sentences or self.validations % self.settings.every_validations:
            return {}
        return self.evaluate(trainer)

    def evaluate(self, trainer: RunView) -> dict[str, float]:
        """WER, CER, MCD-DTW, duration ratio and predicted MOS of the model as it is now, and the
        seconds it took."""
        started = time.monotonic()
        config = trainer.config
        if self.recognizer is None:
            self.recognizer = Recognizer(self.settings.asr_model or None, language=config.text.language,
                                         threads=self.settings.asr_threads)
            self.vocoder = load_vocoder(self.settings.vocoder, config.audio, trainer.device)
        # A copy: the synthesizer puts its model in eval mode; training goes on with the original.
        model = copy.deepcopy(trainer.model)
        frontend = get_frontend(config.text.language, config.text.input, config.text.stress)
        synthesizer = Synthesizer(model, config, frontend, trainer.device, trainer.speaking_rate,
                                  self.vocoder, trainer.speakers)
        evaluation = evaluate_sentences(synthesizer, self.recognizer, self.sentences, progress=False,
                                        heard_sources=self.heard_sources)
        figures = {name: float(evaluation.summary[key]) for name, key in METRICS.items()
                   if evaluation.summary.get(key) is not None and math.isfinite(evaluation.summary[key])}
        figures["eval_seconds"] = round(time.monotonic() - started, 2)
        return figures


def run_callbacks(config: Config, data: str | Path) -> list[Callback]:
    """The callbacks of a Tacotron 2 training run: the intelligibility evaluation when
    eval.every_validations is on (`data`: the data set the run trains on; its held-out list or
    validation recordings are spoken), and the sinks `config.monitor` switches on. Raises UserError
    before training starts when a sink cannot work (monitoring.sinks.build_callbacks)."""
    evaluation = [IntelligibilityCallback(config, data)] if config.eval.every_validations > 0 else []
    return [*evaluation, *build_callbacks(config)]
