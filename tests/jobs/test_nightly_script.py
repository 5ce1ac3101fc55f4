"""deploy/schedule/nightly-scrub.sh as cron runs it: incremental, and never two runs at once."""

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FAST, REPO

from encryptface.config import SAMPLES_DIR

SCRIPT = REPO / "deploy" / "schedule" / "nightly-scrub.sh"


def _run(folder, output, password_file):
    env = dict(os.environ, INPUT=str(folder), OUTPUT=str(output), PASSWORD_FILE=password_file,
               MASTER="local[2]", VENV=str(Path(sys.executable).parent.parent), SPARK_LOCAL_IP="127.0.0.1")
    return subprocess.run(["bash", str(SCRIPT), "--mode=seal", *(f"--set={s}" for s in FAST)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_nightly_script_scrubs_the_delta_and_skips_when_a_run_is_going(tmp_path, password_file):
    folder, output = tmp_path / "archive", tmp_path / "out"
    folder.mkdir()
    shutil.copy(SAMPLES_DIR / "obama2.jpg", folder)
    first = _run(folder, output, password_file)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "scrubbed 1 photos (1 ok" in first.stdout
    shutil.copy(SAMPLES_DIR / "biden.jpg", folder)
    second = _run(folder, output, password_file)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "scrubbed 2 photos" in second.stdout and "1 to scrub (1 new" in second.stdout
    with open(output / ".scrub.lock", "w") as lock:  # a run still going holds the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        third = _run(folder, output, password_file)
    assert third.returncode == 75 and "still running" in third.stderr
