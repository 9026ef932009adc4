"""Where a voice loses naturalness: the predicted MOS (evaluation/naturalness.py) of the same held-out
sentences spoken four ways, each through the same vocoder.

    python benchmarks/naturalness_gap.py CHECKPOINT --data CORPUS [--sentences 8] [--vocoder default] [--wer]

  free            the voice as it speaks (free-running decoder, Synthesizer.synthesize)
  forced_postnet  the model fed the recording's own log-mel (teacher forcing): its postnet output, so
                  the timing and the previous frames are the recording's and only the spectrum is the model's
  forced_decoder  the same before the postnet
  copy            the recording's own log-mel (copy synthesis): what the vocoder can give at best

free << forced: the loss is in free-running (prosody, exposure to its own frames); forced << copy: in
the model's spectra; copy << the recordings' own MOS: in the vocoder. Ordinary-length held-out
sentences (at most 15 words), in file order. The prenet's dropout stays on when teacher-forced, as in
training (Shen et al. 2018), so the forced figures move with its masks (about +-0.1 on 8 sentences
between seeds); --seed fixes them. --wer also transcribes each way with Whisper (the recognizer of
`tacotron evaluate`) and gives pooled WER / CER per way, the recordings' own included: copy synthesis's
WER is the floor an acoustic model can reach through this vocoder. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from tacotron.audio.io import load_audio
from tacotron.data.corpus import read_test_sentences
from tacotron.evaluation.naturalness import predicted_mos
from tacotron.inference import Synthesizer
from tacotron.monitoring.alignment_report import mel_of_wav, teacher_forced
from tacotron.text.error_rate import character_error_rate, normalize_for_scoring, word_error_rate

MAX_WORDS = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a run, checkpoint or base voice name")
    parser.add_argument("--data", type=Path, required=True, help="the corpus whose held-out recordings are the reference")
    parser.add_argument("--sentences", type=int, default=8)
    parser.add_argument("--vocoder", default="default")
    parser.add_argument("--seed", type=int, default=0, help="the teacher-forced prenet's dropout masks")
    parser.add_argument("--wer", action="store_true", help="also WER / CER of each way (Whisper base)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder=args.vocoder)
    sample_rate = synthesizer.config.audio.sample_rate
    language = synthesizer.config.text.language
    recognizer = None
    if args.wer:
        from tacotron.audio.recognizer import Recognizer
        recognizer = Recognizer(language=language)
    scores: dict[str, list[float]] = {"free": [], "forced_postnet": [], "forced_decoder": [], "copy": []}
    heard: dict[str, list[str]] = {key: [] for key in [*scores, "recordings"]}
    references: list[str] = []

    def listen(key: str, waveform: np.ndarray, rate: int) -> None:
        if recognizer is not None:
            heard[key].append(normalize_for_scoring(recognizer.transcribe(waveform, rate).text, language))

    sentences = [s for s in read_test_sentences(args.data) if len(s.text.split()) <= MAX_WORDS][: args.sentences]
    for sentence in sentences:
        recording = args.data / "test_wavs" / f"{sentence.id}.wav"
        mel = mel_of_wav(synthesizer, recording)
        references.append(normalize_for_scoring(sentence.text, language))
        if recognizer is not None:
            listen("recordings", load_audio(recording, sample_rate)[0], sample_rate)
        spoken = synthesizer.synthesize(sentence.text)
        scores["free"].append(predicted_mos(spoken.waveform, spoken.sample_rate))
        listen("free", spoken.waveform, spoken.sample_rate)
        forced = teacher_forced(synthesizer, sentence.text, mel)
        frames = mel.size(1)
        for key, log_mel in (("forced_postnet", forced.mel_postnet[0, :, :frames]),
                             ("forced_decoder", forced.mel[0, :, :frames]), ("copy", mel)):
            waveform = synthesizer.vocoder(log_mel.float().cpu().numpy())
            scores[key].append(predicted_mos(waveform, sample_rate))
            listen(key, waveform, sample_rate)
    figures = {"benchmark": "naturalness_gap", "checkpoint": str(args.checkpoint), "data": str(args.data),
               "sentences": len(sentences), "vocoder": synthesizer.vocoder.name,
               "mos": {key: round(float(np.mean(values)), 3) for key, values in scores.items()}}
    if recognizer is not None:
        figures["wer"] = {key: round(word_error_rate(references, texts), 3) for key, texts in heard.items()}
        figures["cer"] = {key: round(character_error_rate(references, texts), 3) for key, texts in heard.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
