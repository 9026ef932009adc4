"""Phoneme input (text.input=phonemes): eSpeak NG's IPA, punctuation kept, a closed symbol set, training."""

import json
import threading

import numpy as np
import pytest

from tacotron.audio.espeak import EspeakVoice
from tacotron.config import ConfigError, load_config
from tacotron.errors import UserError
from tacotron.data.corpus import generate_sentences, generate_test_sentences
from tacotron.data.dataset import MelTextDataset
from tacotron.data.prepare import load_prepared, prepare
from tacotron.text import UnknownSymbolsError, get_frontend
from tacotron.text.symbols import ENGLISH_SYMBOLS, RUSSIAN_SYMBOLS

en = get_frontend("en", "phonemes")
ru = get_frontend("ru", "phonemes")


def phonemes(frontend, text):
    return frontend.to_input(frontend.normalize(text))


@pytest.mark.parametrize("frontend, text, expected", [
    (en, "hello", "həlˈoʊ"),
    (en, "world", "wˈɜːld"),
    (en, "thought", "θˈɔːt"),
    (en, "measure", "mˈɛʒɚ"),
    (ru, "молоко", "mʌɭʌkˈo"),
    (ru, "здравствуйте", "zdrˈɑstvujtʲi"),
    (ru, "ёлка", "jˈɵɭka"),
])
def test_fixed_words_have_their_exact_phonemes(frontend, text, expected):
    assert phonemes(frontend, text) == expected


def test_punctuation_and_word_boundaries_are_kept():
    assert phonemes(en, "The music stopped, and everyone turned toward the door.") == \
        "ðə mjˈuːzɪk stˈɑːpt, ænd ˈɛvɹɪwˌʌn tˈɜːnd təwˈɔːɹd ðə dˈɔːɹ."
    assert phonemes(en, "Yes? No... maybe!") == "jˈɛs? nˈoʊ... mˈeɪbiː!"
    assert phonemes(en, "Well-known - yes; no: so") == "wˈɛlnˈoʊn - jˈɛs; nˈoʊ: sˈoʊ"
    assert phonemes(ru, "Привет, мир!") == "prʲivʲˈet, mʲˈir!"


def test_russian_stress_mark_moves_the_stress():
    # eSpeak alone stresses "замок" on the second syllable; "+" before a vowel puts it there instead,
    # the vowels that lost or gained the stress written as eSpeak writes them there ("Амок": ˈɑmʌk).
    assert phonemes(ru, "замок") == "zamˈok"
    assert phonemes(ru, "з+амок") == "zˈɑmʌk"
    assert phonemes(ru, "зам+ок") == "zamˈok"
    assert phonemes(ru, "м+ука") == "mˈuka" and phonemes(ru, "мук+а") == "mukˈɑ"
    # Unmarked words around a marked one keep eSpeak's sentence reading; no "+" reaches eSpeak ("плюс").
    assert phonemes(ru, "Он пришёл домой в+ечером.") == "ˈon prʲiʃˈoɭ dʌmˈoj vʲˈetʃʲirʌm."


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_phoneme_of_the_corpus_sentences_is_a_symbol(language):
    frontend = get_frontend(language, "phonemes")
    sentences = generate_sentences(language, 400) + generate_test_sentences(language)
    emitted = set()
    for sentence in sentences:
        normalized = frontend.normalize(sentence)
        emitted |= set(frontend.to_input(normalized))
        assert frontend.unphonemizable_words(normalized) == []
    assert emitted - set(frontend.symbols) == set()
    # The set is not padded with what nobody produces: most of it occurs in these sentences.
    assert len(emitted) >= 0.75 * len(frontend.symbols)


def test_phoneme_symbol_sets_are_fixed_and_distinct_from_characters():
    for frontend, characters in ((en, ENGLISH_SYMBOLS), (ru, RUSSIAN_SYMBOLS)):
        assert frontend.symbols[:3] == ("_", "~", " ")
        assert len(set(frontend.symbols)) == len(frontend.symbols)
        assert frontend.symbols != characters and "ˈ" in frontend.symbols
        assert "+" not in frontend.symbols and "'" not in frontend.symbols
    assert len(en.symbols) == 61 and len(ru.symbols) == 49
    assert get_frontend("en", "characters").symbols == ENGLISH_SYMBOLS


def test_encode_maps_each_phoneme_to_one_id():
    ids = en.encode("Hello, world.")
    assert "".join(en.symbols[i] for i in ids[:-1]) == "həlˈoʊ, wˈɜːld." and ids[-1] == en.eos_id


def test_foreign_words_are_reported_and_unknown_phonemes_raise():
    assert ru.unphonemizable_words(ru.normalize("Привет, hello мир")) == ["hello"]
    assert en.unphonemizable_words(en.normalize("Say привет")) == ["привет"]
    with pytest.raises(UnknownSymbolsError, match="phonemes not in the 'ru' phoneme set: 'l', 'w', 'ɜ', 'ː'"):
        ru.to_ids("wˈɜːld")


def test_config_rejects_an_unknown_input():
    with pytest.raises(ConfigError, match="text.input"):
        load_config(overrides=["text.input=graphemes"])


def test_phonemizing_and_speaking_from_many_threads_gives_the_serial_results():
    sentences = [ru.normalize(s) for s in generate_sentences("ru", 12)] + \
                [en.normalize(s) for s in generate_sentences("en", 12)]
    frontends = [ru] * 12 + [en] * 12
    serial = [frontend.to_input(s) for frontend, s in zip(frontends, sentences)]
    voice = EspeakVoice("en")
    voice.synthesize("one two three")  # eSpeak's first utterance differs slightly from the next ones
    expected_seconds = len(voice.synthesize("one two three")) / voice.sample_rate
    results, audio = [None] * len(sentences), []

    def phonemize(index):
        for _ in range(5):
            results[index] = frontends[index].to_input(sentences[index])

    def speak():
        for _ in range(3):
            audio.append(voice.synthesize("one two three"))

    threads = [threading.Thread(target=phonemize, args=(i,)) for i in range(len(sentences))]
    threads.append(threading.Thread(target=speak))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == serial
    # Not bit-exact even serially (eSpeak carries state between utterances): the same voice and rate
    # give the same duration within a few milliseconds, another voice or rate would not.
    assert len(audio) == 3
    assert all(abs(len(samples) / voice.sample_rate - expected_seconds) < 0.02 for samples in audio)


def test_prepare_caches_phonemes_and_reports_them(corpus_en, tmp_path, fast_config):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(corpus_en, data)
    prepared = prepare(data, fast_config("text.input=phonemes"), progress=False)
    utterances = prepared.train + prepared.val
    assert all(u.phonemes == en.to_input(u.normalized) for u in utterances)
    assert "phonemes (text.input=phonemes), for example:" in prepared.summary()
    assert utterances[0].phonemes in prepared.summary()
    row = json.loads((prepared.root / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["phonemes"] == prepared.train[0].phonemes
    assert load_prepared(data).train[0].phonemes == prepared.train[0].phonemes

    # The dataset reads the cache: a phoneme string it could not have computed itself shows up.
    reloaded = load_prepared(data).train[:1]
    reloaded[0].phonemes = "ðə."
    assert MelTextDataset(reloaded, en).symbol_ids[0] == en.to_ids("ðə.")
    # Prepared for characters: no phonemes cached, the dataset phonemizes once when built.
    for_characters = prepare(data, fast_config("text.input=characters"), progress=False)
    assert all(u.phonemes == "" for u in for_characters.train)
    first = for_characters.train[0]
    assert MelTextDataset([first], en).symbol_ids[0] == en.to_ids(en.to_input(first.normalized))
    assert "phonemes (text.input=phonemes)" not in for_characters.summary()


def test_prepare_warns_about_words_espeak_reads_as_another_language(tmp_path, fast_config, corpus_en):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(corpus_en, data)
    metadata = data / "metadata.csv"
    lines = metadata.read_text(encoding="utf-8").splitlines()
    first_id, text = lines[0].split("|")[:2]
    lines[0] = f"{first_id}|{text} Привет."
    metadata.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepared = prepare(data, fast_config("text.input=phonemes"), progress=False)
    reasons = [(p.action, p.reason) for p in prepared.problems if p.reason.startswith("phonemes")]
    assert reasons == [("warning", "phonemes: eSpeak could not phonemize 'привет'")]
    assert [p.id for p in prepared.problems if p.reason.startswith("phonemes")] == [first_id]


@pytest.mark.slow
def test_a_phoneme_model_trains_and_its_checkpoint_synthesizes(corpus_en, fast_config, tmp_path):
    from tacotron.inference import Synthesizer
    from tacotron.runs import checkpoint as ckpt
    from tacotron.training.trainer import Trainer

    config = fast_config("text.input=phonemes", "train.max_steps=4")
    trainer = Trainer(config, prepare(corpus_en, config, progress=False), tmp_path / "run", progress=False)
    trainer.fit()
    state = ckpt.load_checkpoint(ckpt.resolve_checkpoint(tmp_path / "run"))
    assert state["symbols"] == list(en.symbols)
    assert state["config"]["text"]["input"] == "phonemes"
    synthesizer = Synthesizer.from_checkpoint(tmp_path / "run", vocoder="griffin-lim")
    assert synthesizer.frontend.input == "phonemes"
    synthesis = synthesizer.synthesize("Hello, world.")
    assert synthesis.segments[0].normalized == "hello, world."
    assert len(synthesis.waveform) > 0 and np.isfinite(synthesis.waveform).all()
    assert synthesizer.model.embedding.num_embeddings == len(en.symbols)
    # Resuming the run with characters is refused with a reason, not a tensor size mismatch.
    characters = fast_config("text.input=characters", "train.max_steps=8")
    resumed = Trainer(characters, prepare(corpus_en, characters, progress=False), tmp_path / "run",
                      progress=False)
    with pytest.raises(UserError, match="text.input=phonemes"):
        resumed.fit()
