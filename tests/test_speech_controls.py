"""Speaking speed and word timings (issue 25): durations at each speed, the words of the text with
their times in the final audio (known exactly for a scripted decoding), captions and timings files."""

import json
import math

import numpy as np
import pytest
import torch

from tacotron.audio import postprocess
from tacotron.cli import main
from tacotron.config import load_config
from tacotron.errors import UserError
from tacotron.inference import Synthesizer, WordTiming
from tacotron.inference.captions import caption_cues, captions_text
from tacotron.inference.speed import stretch_mel
from tacotron.inference.vocoder import Vocoder
from tacotron.inference.word_timings import (NoWordTimingsError, decoded_word_times, text_word_groups,
                                             written_words)
from tacotron.model.tacotron2 import TacotronOutput
from tacotron.text import get_frontend
from tacotron.text.phonemes import text_words

from support.overrides import FAST_OVERRIDES
from support.voices import save_untrained_voice

# --- a decoding whose every word time is known -------------------------------------------------

SAMPLE_RATE, HOP = 16000, 160  # 10 ms mel frames, as long as trim_silence's frames: cuts fall on frames
R = 2  # frames per decoder step
SILENT_STEPS = 6  # on the first (last) symbol in silence before (after) the text
STEPS_PER_SYMBOL = 2
LOUD, SILENT = 0.0, -11.5  # log-mel values
MARGIN = 320  # trim_silence keeps 20 ms before the first and after the last loud frame


class ScriptedTacotron:
    """Stands in for Tacotron2 (as the ONNX runtime's model does): every text is decoded the same known
    way. SILENT_STEPS steps attend its first symbol in silence, then STEPS_PER_SYMBOL steps attend each
    symbol in turn with sound, then SILENT_STEPS attend its last symbol (end of sentence) in silence.
    `alignment=False`: the attention weights are NaN, as from a voice that gives no usable alignment."""

    reduction_factor = R

    def __init__(self, n_mels: int, alignment: bool = True):
        self.n_mels, self.alignment = n_mels, alignment

    def to(self, device):
        return self

    def eval(self):
        return self

    def infer(self, text, text_lengths, max_frames, gate_threshold, gate_threshold_start=None,
              attention_window=None, speakers=None) -> TacotronOutput:
        lengths = text_lengths.tolist()
        steps = [2 * SILENT_STEPS + STEPS_PER_SYMBOL * n for n in lengths]
        alignments = torch.zeros(len(lengths), max(steps), text.size(1))
        mel = torch.full((len(lengths), self.n_mels, max(steps) * R), SILENT)
        for row, symbols in enumerate(lengths):
            for step in range(steps[row]):
                symbol = min(max((step - SILENT_STEPS) // STEPS_PER_SYMBOL, 0), symbols - 1)
                alignments[row, step, symbol] = 1.0
            mel[row, :, SILENT_STEPS * R:(SILENT_STEPS + STEPS_PER_SYMBOL * symbols) * R] = LOUD
        if not self.alignment:
            alignments.fill_(float("nan"))
        return TacotronOutput(mel, mel, torch.zeros(len(lengths), max(steps)), alignments,
                              torch.tensor(steps) * R, torch.ones(len(lengths), dtype=torch.bool))


class ToneVocoder(Vocoder):
    """A 220 Hz tone during each loud mel frame, silence during the others: HOP samples a frame."""

    name = "tone"

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        loud = np.repeat(mel[0] > (LOUD + SILENT) / 2, HOP)
        time = np.arange(loud.size) / SAMPLE_RATE
        return (0.5 * np.sin(2 * np.pi * 220.0 * time) * loud).astype(np.float32)


def scripted_synthesizer(alignment: bool = True) -> Synthesizer:
    config = load_config("cpu-tiny", overrides=[
        f"audio.sample_rate={SAMPLE_RATE}", f"audio.hop_length={HOP}", "audio.win_length=640",
        "audio.n_fft=1024", "vocoder.segment_size=8000", "text.language=en", "text.input=characters",
        "inference.max_retries=0"])
    frontend = get_frontend("en", "characters")
    return Synthesizer(ScriptedTacotron(config.audio.n_mels, alignment), config, frontend,
                       vocoder=ToneVocoder(config.audio))


def step_time(step: int) -> float:
    """Seconds of a decoder step: the middle of its R frames, HOP samples each."""
    return (step * R + (R - 1) / 2) * HOP / SAMPLE_RATE


def expected_segment_words(normalized: str, written: list[tuple[str, str]], speed: float) -> list[tuple]:
    """(written word, start, end) in seconds of the segment's trimmed audio. A word whose first symbol
    is a and last b - 1 is read from the step where attention reaches symbol a - 1 (the space before
    it) to the step where it reaches b - 1: step SILENT_STEPS + STEPS_PER_SYMBOL * symbol. The trim
    cuts the silent steps but MARGIN samples; `speed` 2.0 keeps every other mel frame."""
    cut = SILENT_STEPS * R * HOP / speed - MARGIN
    words, position = [], 0
    for written_word, spoken in written:
        first = normalized.index(spoken, position)
        position = first + len(spoken)

        def at(symbol: int) -> float:
            step = 0 if symbol <= 0 else SILENT_STEPS + STEPS_PER_SYMBOL * symbol
            return max(step_time(step) / speed - cut / SAMPLE_RATE, 0.0)

        words.append((written_word, at(first - 1), at(position - 1)))
    return words


@pytest.mark.parametrize("speed", [1.0, 2.0])
def test_word_times_in_the_final_audio_are_the_known_ones_across_segments_pauses_and_trims(speed):
    synthesizer = scripted_synthesizer()
    text = "I have 5 cats. Dr. Smith has 12 dogs?"
    synthesis = synthesizer.synthesize(text, speed=speed)
    first, second = synthesis.segments
    assert (first.normalized, second.normalized) == ("i have five cats.", "doctor smith has twelve dogs?")
    expected_first = expected_segment_words(first.normalized, [
        ("I", "i"), ("have", "have"), ("5", "five"), ("cats.", "cats")], speed)
    expected_second = expected_segment_words(second.normalized, [
        ("Dr.", "doctor"), ("Smith", "smith"), ("has", "has"), ("12", "twelve"), ("dogs?", "dogs")], speed)
    # Each segment's audio is its loud frames and MARGIN samples either side; a sentence pause between.
    loud = [STEPS_PER_SYMBOL * (len(segment.normalized) + 1) * R * HOP / speed  # + 1: end of sentence
            for segment in synthesis.segments]
    first_length = loud[0] + 2 * MARGIN
    assert [len(audio) for audio in synthesis.segment_audio] == [first_length, loud[1] + 2 * MARGIN]
    pause = round(synthesizer.config.inference.pause_sentence / speed * SAMPLE_RATE)
    assert len(synthesis.waveform) == first_length + pause + loud[1] + 2 * MARGIN  # no final cut
    second_offset = (first_length + pause) / SAMPLE_RATE
    expected = expected_first + [(word, start + second_offset, end + second_offset)
                                 for word, start, end in expected_second]
    assert [(word.word, word.start, word.end) for word in synthesis.words] == [
        (word, pytest.approx(start, abs=1e-9), pytest.approx(end, abs=1e-9)) for word, start, end in expected]
    assert [len(words) for words in synthesis.segment_words] == [4, 5]


def test_streamed_segments_carry_their_own_word_times_and_join_to_the_same_result():
    synthesizer = scripted_synthesizer()
    text = "I have 5 cats. Dr. Smith has 12 dogs?"
    spoken = list(synthesizer.stream(text, speed=2.0))
    assert [word.word for word in spoken[1].words] == ["Dr.", "Smith", "has", "12", "dogs?"]
    assert spoken[1].words[1].start == pytest.approx(expected_segment_words(
        spoken[1].segment.normalized, [("Dr.", "doctor"), ("Smith", "smith")], 2.0)[1][1])
    joined = synthesizer.join_spoken(text, spoken)
    whole = synthesizer.synthesize(text, speed=2.0)
    assert np.array_equal(joined.waveform, whole.waveform) and joined.words == whole.words
    # A streaming server post-processes each segment alone: the words move with its trim.
    audio, words = synthesizer.postprocess_with_words(spoken[0].audio, spoken[0].words)
    gated = (postprocess.noise_gate(spoken[0].audio, SAMPLE_RATE) if synthesizer.config.postprocess.noise_gate
             else spoken[0].audio)
    cut, _ = postprocess.silence_bounds(gated, SAMPLE_RATE)
    assert len(audio) == len(synthesizer.postprocess(spoken[0].audio))
    assert [w.start for w in words] == pytest.approx([max(w.start - cut / SAMPLE_RATE, 0)
                                                      for w in spoken[0].words])


def test_a_voice_without_a_usable_alignment_has_no_word_timings_and_says_so():
    synthesis = scripted_synthesizer(alignment=False).synthesize("No attention here.")
    assert synthesis.waveform.size > 0 and synthesis.segment_words is None
    with pytest.raises(UserError, match="no word timings"):
        synthesis.words
    with pytest.raises(NoWordTimingsError):
        decoded_word_times(np.zeros((0, 5)), [("a", 0, 1)], 2, HOP, SAMPLE_RATE)
    # Segments joined without their words (an older caller of `join`) have none either.
    synthesizer = scripted_synthesizer()
    spoken = list(synthesizer.stream("One. Two."))
    joined = synthesizer.join("One. Two.", [p.segment for p in spoken], [p.audio for p in spoken],
                              [p.pause_after for p in spoken[:-1]])
    with pytest.raises(UserError, match="no word timings"):
        joined.words


# --- speed ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_voice(tmp_path_factory):
    """An untrained voice (gate shut: every segment is max_frames_per_symbol frames a symbol long)."""
    config = load_config("cpu-tiny", overrides=[*FAST_OVERRIDES, "text.language=en", "text.input=characters"])
    return save_untrained_voice(tmp_path_factory.mktemp("voice") / "run", config)


@pytest.fixture(scope="module")
def tiny_synthesizer(tiny_voice):
    return Synthesizer.from_checkpoint(tiny_voice, vocoder="griffin-lim", overrides=[
        "inference.max_frames_per_symbol=4", "inference.max_retries=0"])


@pytest.mark.parametrize("method", ["mel", "wsola", "phase-vocoder"])
def test_speed_divides_the_duration_and_scales_the_word_times(tiny_synthesizer, method):
    text = "Hello there. How are you?"
    tiny_synthesizer.config.inference.speed_method = method
    try:
        results = {speed: tiny_synthesizer.synthesize(text, speed=speed) for speed in (0.5, 1.0, 2.0)}
    finally:
        tiny_synthesizer.config.inference.speed_method = "mel"
    seconds = {speed: len(result.waveform) / result.sample_rate for speed, result in results.items()}
    for speed in (0.5, 2.0):
        assert seconds[speed] / seconds[1.0] == pytest.approx(1 / speed, rel=0.05), (method, speed, seconds)
        # The last word ends where it ended at 1.0, moved by 1/speed (the trims keep 20 ms margins).
        assert results[speed].words[-1].end == pytest.approx(results[1.0].words[-1].end / speed, rel=0.08)
    assert [word.word for word in results[2.0].words] == ["Hello", "there.", "How", "are", "you?"]


def test_speed_one_is_the_default_and_leaves_the_audio_as_it_was(tiny_synthesizer):
    text = "Same as ever."
    assert np.array_equal(tiny_synthesizer.synthesize(text).waveform,
                          tiny_synthesizer.synthesize(text, speed=1.0).waveform)
    assert np.array_equal(tiny_synthesizer.synthesize(text).waveform, tiny_synthesizer.tts(text, speed=1)[0])


@pytest.mark.parametrize("speed", [0.2, 4.5, 0.0, -1.0, math.nan, math.inf, "fast", None, True])
def test_speed_out_of_range_is_a_user_error_naming_speed(tiny_synthesizer, speed):
    with pytest.raises(UserError, match="speed"):
        tiny_synthesizer.synthesize("Hi.", speed=speed)
    with pytest.raises(UserError, match="speed"):
        tiny_synthesizer.stream("Hi.", speed=speed)  # at the call, before any segment is asked for


def test_mel_stretch_reads_the_input_at_speed_times_the_output_frame():
    mel = np.arange(12, dtype=np.float32)[None, :].repeat(3, axis=0)
    assert stretch_mel(mel, 2.0)[0].tolist() == [0, 2, 4, 6, 8, 10]
    assert stretch_mel(mel, 0.5)[0].tolist() == pytest.approx([k / 2 for k in range(23)] + [11.0])
    assert stretch_mel(mel, 4.0).shape == (3, 3)


def test_speed_method_is_checked_by_the_config():
    from tacotron.config import ConfigError, validate

    with pytest.raises(ConfigError, match="inference.speed_method"):
        validate(load_config(overrides=["inference.speed_method=chipmunk"]))


# --- words of the text ----------------------------------------------------------------------------


def test_words_cover_the_text_in_order_without_overlap_inside_the_audio(tiny_synthesizer):
    text = ("Dr. Smith has 5 cats, 2 dogs and a parrot - all of them loud! Where is the U.S. embassy? "
            "It's on Main St., near the old well-known park.")
    synthesis = tiny_synthesizer.synthesize(text, speed=1.5)
    words = synthesis.words
    assert [word.word for word in words] == [token for token in text.split() if token != "-"]
    seconds = len(synthesis.waveform) / synthesis.sample_rate
    assert all(0 <= word.start <= word.end <= seconds for word in words)
    assert all(before.end <= after.start for before, after in zip(words, words[1:]))
    assert len(synthesis.segments) >= 3 and sum(map(len, synthesis.segment_words)) == len(words)


def test_written_words_pair_with_the_normalized_words_that_speak_them():
    english = get_frontend("en", "characters")
    normalized = [word for word, _, _ in text_words(english.normalize("I paid $3.50 for 2 U.S. maps."))]
    groups = text_word_groups("I paid $3.50 for 2 U.S. maps.", normalized, english.normalize)
    spoken = {word: normalized[first:end] for word, first, end in groups}
    assert [word for word, _, _ in groups] == ["I", "paid", "$3.50", "for", "2", "U.S.", "maps."]
    assert spoken["2"] == ["two"] and spoken["U.S."] == ["u", "s"] and spoken["maps."] == ["maps"]
    assert " ".join(spoken["$3.50"]).startswith("three dollars")
    russian = get_frontend("ru", "characters")
    russian_words = "у меня двадцать пять кошек".split()
    groups = text_word_groups("У меня 25 кошек.", russian_words, russian.normalize)
    assert groups == [("У", 0, 1), ("меня", 1, 2), ("25", 2, 4), ("кошек.", 4, 5)]
    assert written_words("Well - yes... «Да»!") == ["Well", "yes...", "«Да»!"]


def test_phoneme_spans_follow_espeak_where_it_joins_words():
    frontend = get_frontend("en", "phonemes")
    normalized = frontend.normalize("Most of the people went in the house, and then left.")
    phonemes = frontend.to_input(normalized)
    spans = frontend.word_spans(normalized, phonemes)
    assert [word for word, _, _ in spans] == normalized.replace(",", "").replace(".", "").split()
    assert all(start < end for _, start, end in spans)
    assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:]))
    said = {word: phonemes[start:end] for word, start, end in spans}
    assert said["people"].replace("ˈ", "").startswith("piː") and said["house"].endswith("s")
    # eSpeak says "in the" as one word; each gets a part of it
    assert "ɪnðə" in phonemes and said["in"] + said["the"] == "ɪnðə"


# --- captions and the command line ---------------------------------------------------------------


def test_captions_break_at_sentences_and_line_length_and_parse_back():
    import srt
    import webvtt

    words = [WordTiming(word, 0.5 * index, 0.5 * index + 0.4) for index, word in enumerate(
        "Hello there. This is a rather long caption line that must be broken somewhere sensible.".split())]
    cues = caption_cues(words)
    assert cues[0] == (0.0, 0.9, "Hello there.")
    assert all(len(text) <= 42 for _, _, text in cues)
    assert " ".join(text for _, _, text in cues) == " ".join(word.word for word in words)
    parsed = list(srt.parse(captions_text(words, ".srt")))
    assert [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in parsed] == \
        [(pytest.approx(start), pytest.approx(end), text) for start, end, text in cues]
    vtt = webvtt.from_string(captions_text(words, ".vtt"))
    assert [(c.start_in_seconds, c.text) for c in vtt.captions] == [(pytest.approx(c[0]), c[2]) for c in cues]


def test_synth_cli_writes_speed_changed_audio_timings_captions_and_report(tiny_voice, tmp_path, capsys):
    import soundfile
    import srt
    import webvtt

    text = "Hello there, my friend. I have 5 cats!"
    common = ["synth", "--checkpoint", str(tiny_voice), "--text", text, "--vocoder", "griffin-lim",
              "inference.max_frames_per_symbol=4", "inference.max_retries=0"]
    assert main([*common, "--out", str(tmp_path / "normal.wav")]) == 0
    assert main([*common, "--out", str(tmp_path / "fast.wav"), "--speed", "1.5", "--timings",
                 str(tmp_path / "words.json"), "--captions", str(tmp_path / "out.srt"),
                 "--report", str(tmp_path / "report.json")]) == 0
    assert main([*common, "--out", str(tmp_path / "fast2.wav"), "--speed", "1.5",
                 "--captions", str(tmp_path / "out.vtt")]) == 0
    normal, rate = soundfile.read(tmp_path / "normal.wav")
    fast, _ = soundfile.read(tmp_path / "fast.wav")
    assert len(fast) / len(normal) == pytest.approx(1 / 1.5, rel=0.05)
    timings = json.loads((tmp_path / "words.json").read_text(encoding="utf-8"))
    assert timings["audio_seconds"] == pytest.approx(len(fast) / rate, abs=1e-3)
    assert [w["word"] for w in timings["words"]] == text.split()
    assert all(0 <= w["start"] <= w["end"] <= timings["audio_seconds"] for w in timings["words"])
    subtitles = list(srt.parse((tmp_path / "out.srt").read_text(encoding="utf-8")))
    assert " ".join(s.content for s in subtitles) == text
    assert subtitles[0].start.total_seconds() == pytest.approx(timings["words"][0]["start"], abs=1e-3)
    assert " ".join(c.text for c in webvtt.read(str(tmp_path / "out.vtt")).captions) == text
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [w for segment in report["segments"] for w in segment["words"]] == timings["words"]
    capsys.readouterr()


@pytest.mark.parametrize("extra, message", [
    (["--speed", "5"], "speed must be from 0.25 to 4.0"),
    (["--speed", "0.1"], "speed must be from 0.25 to 4.0"),
    (["--captions", "out.txt"], "must end in .srt or .vtt"),
])
def test_synth_cli_refuses_bad_speed_and_caption_suffix(tiny_voice, tmp_path, capsys, extra, message):
    code = main(["synth", "--checkpoint", str(tiny_voice), "--text", "Hi.", "--out", str(tmp_path / "x.wav"),
                 *extra])
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "x.wav").exists()


# --- offsets the post-processing reports -----------------------------------------------------------


def test_join_offsets_say_where_each_piece_lands():
    rate = 1000
    pieces = [np.full(50, 0.5, np.float32), np.full(30, -0.5, np.float32), np.full(40, 0.25, np.float32)]
    joined, offsets = postprocess.crossfade_join_with_offsets(pieces, rate, [0.02, 0.0], crossfade_ms=10)
    assert offsets == [0, 70, 90]  # after a 20-sample pause; then overlapping by the 10-sample crossfade
    assert np.array_equal(joined, postprocess.crossfade_join(pieces, rate, [0.02, 0.0], crossfade_ms=10))
    assert joined[offsets[1] + 10] == np.float32(-0.5) and joined[offsets[2] + 10] == np.float32(0.25)
    assert len(joined) == offsets[2] + 40


def test_postprocess_reports_the_samples_its_trim_cut_from_the_start():
    rate = 16000
    signal = np.zeros(rate, np.float32)
    signal[8000:12000] = 0.5 * np.sin(np.arange(4000) * 0.2)
    processed, cut = postprocess.postprocess_with_offset(signal, rate)
    assert np.array_equal(processed, postprocess.postprocess(signal, rate))
    assert cut == 8000 - 320 and len(processed) == 4000 + 2 * 320
    assert postprocess.postprocess_with_offset(signal, rate, trim=False)[1] == 0
