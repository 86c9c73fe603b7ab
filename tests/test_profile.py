"""gpusim/engine/profile.py: every kernel states its minimum traffic once,
in its header comment, and the profiler reads it from there."""

from __future__ import annotations

import pytest

from gpusim.engine.profile import launch_bytes, min_traffic
from gpusim.engine.sources import kernel_names


def test_every_kernel_states_its_min_traffic():
    assert set(min_traffic()) == set(kernel_names())
    for name, (per_site, per_thread) in min_traffic().items():
        assert per_site > 0 or per_thread > 0, name


def test_launch_bytes_counts_sites_and_threads():
    per_site, per_thread = min_traffic()["field_secrete"]
    assert per_site == 4 and per_thread == 16
    assert launch_bytes("field_secrete", n_threads=10, n_sites=1000) == 4 * 1000 + 16 * 10
    with pytest.raises(KeyError):
        launch_bytes("no_such_kernel", 1, 1)
