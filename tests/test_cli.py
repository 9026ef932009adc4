"""User mistakes on the command line end with a one-line error and exit code 2, never a traceback."""

import pytest

from tacotron.cli import main

from test_prepare import make_corpus


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_prepare_prints_summary_and_problems_by_file_and_line(tmp_path, capsys):
    make_corpus(tmp_path, count=10)
    with open(tmp_path / "metadata.csv", "a", encoding="utf-8") as handle:
        handle.write("missing|no audio for this one\n")
    code, out, _ = run(capsys, "prepare", str(tmp_path), "--lang", "en", "data.num_workers=1")
    assert code == 0
    assert "10 utterances" in out
    report = (tmp_path / "prepared" / "report.txt").read_text()
    assert f"{tmp_path / 'metadata.csv'}:11: skipped: audio file not found" in report


def test_prepare_of_a_folder_without_data(tmp_path, capsys):
    code, _, err = run(capsys, "prepare", str(tmp_path))
    assert code == 2 and err.startswith("error: ") and "metadata.csv" in err


@pytest.mark.parametrize("argv, message", [
    (["synth", "--checkpoint", "nowhere.pt", "--text", "hi", "--out", "x.wav"],
     "checkpoint not found: nowhere.pt"),
    (["demo", "--lang", "en", "train.max_minutes=abc"],
     "config key 'train.max_minutes': expected a number"),
])
def test_bad_arguments(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_synth_text_file_must_have_text(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    ckpt_dir = tmp_path / "run" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    (ckpt_dir / "step_0000001.pt").write_bytes(b"not a checkpoint")
    code, _, err = run(capsys, "synth", "--checkpoint", str(tmp_path / "run"), "--text-file",
                       str(empty), "--out", str(tmp_path / "o.wav"))
    assert code == 2 and "no text to speak" in err
    code, _, err = run(capsys, "synth", "--checkpoint", str(tmp_path / "run"), "--text", "hi",
                       "--out", str(tmp_path / "o.wav"))
    assert code == 2 and "not a readable tacotron checkpoint" in err
