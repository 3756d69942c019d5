"""A training process killed with SIGKILL resumes from its last epoch checkpoint (slow: opt in with -m slow)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import tiny_tagger_overrides

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path, ner_files):
    work, out = tmp_path / "work", tmp_path / "model"
    args = [sys.executable, "-m", "nlpseq", "train", "ner", "--verbose", "0",
            "--output", str(out), "--work-dir", str(work)]
    for item in tiny_tagger_overrides(ner_files, epochs=30) + ["training.patience=100"]:
        args += ["--set", item]
    state = work / "checkpoints" / "state.json"
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not (state.is_file() and json.loads(state.read_text())["epoch"] >= 2):
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 2 <= killed_at < 30 and not out.exists()
    # No half-written checkpoint files are left behind as the real ones.
    assert (work / "checkpoints" / "last.weights.h5").is_file()

    resumed = subprocess.run(args + ["--resume", "--set", f"training.epochs={killed_at + 2}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed after epoch {killed_at}" in resumed.stdout
    history = json.loads(state.read_text())["history"]
    assert [h["epoch"] for h in history] == list(range(1, killed_at + 3))
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == killed_at + 2
