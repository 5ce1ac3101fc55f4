"""A bad setting on any command ends it like a bad flag: exit status 2 and one line on stderr naming
the setting, the value and what is allowed, no traceback, nothing started (no Spark, no model)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from encryptface.config import SAMPLES_DIR
from jobs.cli import main

SCRUB = ["scrub", "--input", str(SAMPLES_DIR), "--mode", "seal",
         "--password-file", str(REPO / "conf" / "demo.password")]


@pytest.mark.parametrize(("flag", "says"), [
    ("cloak.random_start=maybe", "setting cloak.random_start = 'maybe' (from --set): must be true or false"),
    ("images.output_format=jpg",
     "setting images.output_format = 'jpg' (from --set): choose one of 'jpeg', 'png'"),
])
def test_the_encryptface_command_exits_2_with_one_line(tmp_path, flag, says):
    """The installed `encryptface` command end to end, in its own process."""
    script = Path(sys.executable).with_name("encryptface")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "jobs.cli"]
    command = [*entry, *SCRUB, "--output", str(tmp_path / "out"), "--set", flag]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if not k.startswith("ENCRYPTFACE")})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"encryptface scrub: error: {says}"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [
    [*SCRUB, "--output", "OUT", "--set", "cloak.method=pgd-targetted"],
    ["restore", "--input", "OUT", "--output", "OUT2", "--set", "encrypt.decoys=perhaps"],
    ["verify", "--records", "OUT", "--probe", "p.jpg", "--set", "kdf.n_log2=3"],
    ["evaluate", "--originals", "O", "--scrubbed", "S", "--output", "OUT", "--set", "images.jpeg_quality=0"],
    ["gallery", "--records", "OUT", "--output", "g.html", "--set", "spark.batch_size=x"],
    ["train-prior", "--set", "prior_training.steps=0"],
    ["train-stylegan", "--set", "stylegan_training.samples=-1"],
    [*SCRUB, "--output", "OUT", "--set", "nosuch.key=1"],
    [*SCRUB, "--output", "OUT", "--set", "no-equals-sign"],
])
def test_every_command_refuses_a_bad_setting_in_one_line(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("ENCRYPTFACE")]:
        monkeypatch.delenv(name)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"encryptface {argv[0]}: error: ")
    assert "Traceback" not in lines[0]


def test_a_bad_environment_variable_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENCRYPTFACE__CLOAK__NORM", "l1")
    with pytest.raises(SystemExit):
        main([*SCRUB, "--output", str(tmp_path / "out")])
    assert "ENCRYPTFACE__CLOAK__NORM" in capsys.readouterr().err


def test_the_renamed_training_command_says_its_new_name(capsys):
    assert main(["train-generator"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "encryptface: error: train-generator was renamed train-prior (settings section [prior_training])"]
