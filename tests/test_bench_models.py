"""The bench scripts' --models: an unknown name ends in one line listing the
known names and a non-zero exit, never a traceback (issue 14's KeyError)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, known", [("step_time.py", "mlp 784-512x3-10"),
                                           ("memory.py", "lenet5"),
                                           ("step_profile.py", "lenet5 32x32")])
def test_unknown_model_name_is_one_line_error(script, known):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--models", "mlp_512x3"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "unknown model 'mlp_512x3'" in lines[0] and known in lines[0]
    assert done.stdout == ""
