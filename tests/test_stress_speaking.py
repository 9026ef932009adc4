"""Russian stress and ё when speaking (text.stress): Silero Stress marks the text between normalize and
to_input, the marks a user wrote are kept, the phonemes follow the marks, data preparation marks what
synthesis marks, and voices written before the setting speak as before. Loading Silero Stress costs
about 6 s (20 s with the other core busy), so the module shares one Accentor (the process's own)."""

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import pytest

from tacotron.config import ConfigError, load_config
from tacotron.errors import UserError
from tacotron.runs.acoustic import load_voice
from tacotron.runs.voice import make_voice, read_voice
from tacotron.text import get_frontend, stress
from tacotron.text.phonemes import Phonemizer, stressed_as_marked

FIXTURE_CHECKPOINT = Path(__file__).parent / "fixtures" / "voice-2026-12-07" / "step_0000004.pt"
BENCHMARK = Path(__file__).parents[1] / "benchmarks" / "russian_stress.py"


@pytest.fixture(scope="module")
def accentor():
    pytest.importorskip("silero_stress",
                        reason="text.stress=auto needs silero-stress: pip install 'tacotron[stress]'")
    return stress.shared_accentor(required=True)


def russian(input: str, setting: str):
    return get_frontend("ru", input, setting)


def spoken(frontend, text: str) -> str:
    """The model input synthesis makes of `text`."""
    return frontend.to_input(frontend.stressed(frontend.normalize(text)))


def benchmark():
    spec = importlib.util.spec_from_file_location("russian_stress_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the setting
def test_text_stress_is_auto_unless_set_and_checked():
    assert load_config().text.stress == "auto"
    assert load_config(overrides=["text.stress=off"]).text.stress == "off"
    with pytest.raises(ConfigError, match="text.stress must be auto, on or off"):
        load_config(overrides=["text.stress=always"])
    with pytest.raises(ConfigError, match="English text has none"):
        load_config(overrides=["text.language=en", "text.stress=on"])
    with pytest.raises(UserError, match="unsupported text.stress 'always'"):
        get_frontend("ru", "phonemes", "always")
    with pytest.raises(UserError, match="text.stress=on marks Russian stress"):
        get_frontend("en", "characters", "on")


def test_auto_marks_russian_only_and_off_marks_nothing():
    english = get_frontend("en", "phonemes", "auto")
    assert english.stressed("read the record.") == "read the record."
    assert russian("phonemes", "off").stressed("все замки.") == "все замки."
    assert get_frontend("ru", "phonemes").stress == "off"  # callers without a config get no stress step


def test_an_acute_accent_is_a_stress_mark():
    frontend = russian("characters", "off")
    assert frontend.normalize("За\u0301мок и замо\u0301к, +5") == "з+амок и зам+ок, плюс пять"
    assert frontend.unknown_characters(frontend.normalize("Мука\u0301")) == []


# ---------------------------------------------------------------- marking
def test_auto_restores_yo_and_marks_words_of_two_vowels(accentor):
    frontend = russian("phonemes", "auto")
    assert frontend.stressed("я все понял.") == "я всё п+онял."
    assert frontend.stressed("все ученики пришли на урок.") == "все ученик+и пришл+и на ур+ок."


def test_the_users_marks_are_kept_and_the_rest_filled_in(accentor):
    frontend = russian("phonemes", "auto")
    normalized = frontend.normalize("Старинный зам+ок, а за ним За\u0301мок.")
    assert normalized == "старинный зам+ок, а за ним з+амок."
    # The model would stress both "замок" alike; each keeps the hand's mark, the others are marked.
    assert frontend.stressed(normalized) == "стар+инный зам+ок, а за ним з+амок."
    assert accentor("на двери висел тяжёлый з+амок.") == "на двер+и вис+ел тяжёлый з+амок."


def test_a_marked_word_of_one_vowel_keeps_its_mark_but_the_models_are_dropped(accentor):
    assert stress.speaking_mark("+он") == "он" and stress.speaking_mark("вс+ё") == "всё"
    assert stress.speaking_mark("приш+ёл") == "пришёл" and stress.speaking_mark("зам+ок") == "зам+ок"
    assert accentor("н+а столе") == "н+а стол+е"


# ---------------------------------------------------------------- phonemes
def test_the_phonemes_of_a_homograph_follow_its_stress(accentor):
    off, auto = russian("phonemes", "off"), russian("phonemes", "auto")
    assert spoken(off, "Я все понял.") == "ˈja fsʲˈe pˈonʲʌɭ."  # eSpeak: "все" (all of them)
    assert spoken(auto, "Я все понял.") == "ˈja fsʲˈɵ pˈonʲʌɭ."  # all of it
    # eSpeak says "замок" zamˈok (a lock); the castle is stressed on its first vowel, which is then
    # full and the second reduced, as eSpeak says "амок".
    assert spoken(off, "з+амок") == "zˈɑmʌk" and spoken(off, "зам+ок") == "zamˈok"
    assert spoken(off, "амок") == "ˈɑmʌk"
    assert spoken(auto, "В соборе зазвучал старинный орган.").endswith("ʌrɡˈɑn.")
    assert spoken(off, "В соборе зазвучал старинный орган.").endswith("ˈorɡʌn.")


def test_marks_keep_the_sentence_reading():
    # Each word was once phonemized on its own: a lone "в" came out as the letter's name, "vˈɛ".
    off = russian("phonemes", "off")
    assert spoken(off, "в з+амке") == "v zˈɑmkʲi"
    assert spoken(off, "н+а столе") == "nə stʌɭʲˈe"  # eSpeak says "на" unstressed: kept
    assert spoken(off, "кот н+а столе и в з+амке") == "kˈot nə stʌɭʲˈe ɪ v zˈɑmkʲi"


@pytest.mark.parametrize("word", ["замок", "мука", "атлас", "орган", "плачу", "стрелки", "кружки",
                                  "полки", "дома", "парить", "белки", "стоит"])
def test_moving_the_stress_away_and_back_gives_espeaks_own_phonemes(word):
    """The vowels a moved stress rewrites are written as eSpeak writes them: moving eSpeak's stress to
    each other vowel and back gives its phonemes again."""
    phonemizer = Phonemizer("ru")
    own = phonemizer.phonemize(word)
    vowels = [index for index, letter in enumerate(word) if letter in "аеёиоуыэюя"]
    stressed = next(n for n, position in enumerate(vowels)
                    if stressed_as_marked(word[:position] + "+" + word[position:], own) == own)
    for n, position in enumerate(vowels):
        if n != stressed:
            moved = stressed_as_marked(word[:position] + "+" + word[position:], own)
            assert moved != own and moved.count("ˈ") == 1
            back = vowels[stressed]
            assert stressed_as_marked(word[:back] + "+" + word[back:], moved) == own


def test_on_the_hand_marked_homographs_auto_stresses_the_right_vowel_far_more_often(accentor):
    measure = benchmark()
    rows = measure.read_homographs()
    assert len(rows) >= 30
    said = {measure._folded(marked) for _, marked in rows}
    assert {"замок", "мука", "атлас", "все", "орган", "парить", "плачу", "стрелки", "кружки"} <= said
    off, auto = russian("phonemes", "off"), russian("phonemes", "auto")
    right_off = sum(measure.speaks_as_marked(measure.homograph_phonemes(off, s, m)[1], m) for s, m in rows)
    right_auto = sum(measure.speaks_as_marked(measure.homograph_phonemes(auto, s, m)[1], m) for s, m in rows)
    # Measured (50 sentences, silero-stress 1.5, espeakng-loader 0.2.4): off 26, auto 47.
    assert right_off / len(rows) <= 0.6 and right_auto / len(rows) >= 0.9


# ---------------------------------------------------------------- without silero-stress
def test_without_silero_stress_auto_warns_once_and_on_fails(monkeypatch):
    monkeypatch.setattr(stress, "_shared", None)
    monkeypatch.setattr(stress, "_missing", None)
    monkeypatch.setitem(sys.modules, "silero_stress", None)  # what import finds when it is not installed
    auto = russian("phonemes", "auto")
    with pytest.warns(RuntimeWarning, match="text.stress=auto: stress marks need the silero-stress"):
        assert auto.stressed("я все понял.") == "я все понял."
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        assert auto.stressed("мука.") == "мука."
    assert later == []  # one warning per process
    assert spoken(auto, "Я все понял.") == "ˈja fsʲˈe pˈonʲʌɭ."
    with pytest.raises(UserError, match="text.stress=on: .*pip install 'tacotron\\[stress\\]'"):
        russian("phonemes", "on").stressed("я все понял.")


# ---------------------------------------------------------------- voices and data
def test_the_manifest_carries_the_setting_and_older_voices_read_as_off():
    old = load_voice(FIXTURE_CHECKPOINT)
    assert old.config.text.stress == "off" and old.manifest()["text"]["stress"] == "off"
    assert read_voice(old.manifest(), "json", ["text.stress=auto"]).config.text.stress == "auto"
    config = load_config(overrides=["text.language=ru"])
    manifest = json.loads(json.dumps(make_voice(config.to_dict(), {"symbols": ["_"]})))
    assert manifest["text"] == {"language": "ru", "input": "phonemes", "stress": "auto", "symbols": ["_"]}
    assert read_voice(manifest, "new").config.text.stress == "auto"
    manifest["text"]["stress"] = "sometimes"
    with pytest.raises(ConfigError, match="newer: text.stress must be auto, on or off"):
        read_voice(manifest, "newer")


def test_base_ru_is_spoken_as_before_unless_asked():
    from tacotron.inference import Synthesizer
    from tacotron.inference.synthesizer import as_sentence

    text = "Старинный замок стоит на холме."
    synthesizer = Synthesizer.from_checkpoint("base-ru", vocoder="griffin-lim")
    frontend = synthesizer.frontend
    assert synthesizer.config.text.stress == "off"
    (job,) = synthesizer._jobs(text)
    assert job.stressed == job.normalized == as_sentence(frontend.normalize(text))
    assert job.ids == frontend.to_ids(frontend.to_input(job.normalized))  # the pipeline before the setting


def test_base_ru_with_auto_reports_what_it_stressed(accentor):
    from tacotron.inference import Synthesizer

    synthesizer = Synthesizer.from_checkpoint("base-ru", overrides=["text.stress=auto",
                                                                    "inference.max_frames_per_symbol=2"],
                                              vocoder="griffin-lim")
    (segment,) = synthesizer.synthesize("Старинный замок.").segments
    report = segment.report()
    assert report["normalized"] == "старинный замок."
    assert report["stressed"] == "стар+инный з+амок."


def test_prepare_marks_the_training_text_as_synthesis_does(accentor, tmp_path):
    import numpy as np
    import soundfile

    from tacotron.data.prepare import prepare

    loose = ["data.cps_outlier_mads=1000"]  # noise of lengths in proportion: no speaking rate to judge
    sentences = ["Старинный замок стоит на холме.", "Я все понял.", "Для пирога нужна мука.",
                 "В соборе зазвучал орган.", "Стрелки часов показывали полдень.", "Мы все устали."]
    (tmp_path / "wavs").mkdir()
    noise = np.random.default_rng(0)
    for index, sentence in enumerate(sentences):  # the audio only has to pass prepare's checks
        soundfile.write(tmp_path / "wavs" / f"u{index}.wav",
                        0.1 * noise.standard_normal(int(22050 * len(sentence) / 14)).astype("float32"), 22050)
    (tmp_path / "metadata.csv").write_text("".join(f"u{index}|{sentence}\n" for index, sentence in
                                                   enumerate(sentences)), encoding="utf-8")
    auto = prepare(tmp_path, load_config(overrides=["text.stress=auto", "data.val_size=1", *loose]),
                   progress=False)
    frontend = russian("phonemes", "auto")
    utterances = auto.train + auto.val
    assert len(utterances) == len(sentences)
    for utterance in utterances:
        assert utterance.normalized == frontend.stressed(frontend.normalize(utterance.text))
        assert utterance.phonemes == frontend.to_input(utterance.normalized)
    assert {u.normalized for u in utterances} >= {"я всё п+онял.", "стар+инный з+амок сто+ит на холм+е."}
    off = prepare(tmp_path, load_config(overrides=["text.stress=off", "data.val_size=1", *loose]),
                  progress=False)
    assert {u.normalized for u in off.train + off.val} >= {"я все понял.", "старинный замок стоит на холме."}
