"""scripts/gpu_check.sh fits one device command (600 s): every stage's
timeout is cut to what is left of GPU_CHECK_BUDGET_S.  Shown without a GPU:
stand-ins for python3 and nvidia-smi that hang."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_stages_end_inside_the_budget(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    # `python3 -m gpusim info` and the summaries (`python3 - FILE`) answer; every stage hangs.
    (fake / "python3").write_text('#!/bin/sh\ncase "$*" in *gpusim\\ info*) exit 0;; esac\n'
                                  'if [ "$1" = "-" ]; then cat > /dev/null; exit 0; fi\nexec sleep 600\n')
    (fake / "nvidia-smi").write_text("#!/bin/sh\necho fake GPU\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:/usr/bin:/bin", "OUT": str(tmp_path / "out"), "GPU_CHECK_BUDGET_S": "4"}
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], capture_output=True, text=True, env=env,
                          timeout=120)
    elapsed = time.monotonic() - t0
    assert elapsed < 20, (elapsed, proc.stdout[-2000:])  # four hanging stages, each cut to the budget's rest
    assert "pytest -m gpu exit code: 124" in proc.stdout
    commands = [line for line in (ROOT / "scripts" / "gpu_check.sh").read_text().splitlines()
                if line.startswith("timeout ")]
    assert len(commands) == 7 and all(c.startswith('timeout "$(budget ') for c in commands)  # none outside it (tiles too)
