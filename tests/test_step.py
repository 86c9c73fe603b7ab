"""gpusim/step.py: one phase order and one interface for every backend."""

from __future__ import annotations

import pytest

from conftest import make_config
from gpusim.backends import make_backend
from gpusim.state import initial_state
from gpusim.step import PHASES, Backend, phase_order


def test_immune_phases_are_skipped_without_the_immune_system():
    assert phase_order(True) == tuple(name for name, _ in PHASES)
    assert phase_order(False) == ("tumour_death", "tumour_divide")


@pytest.mark.parametrize("immune", [True, False])
def test_backends_run_the_phases_in_order(backend, immune, monkeypatch):
    cfg = make_config(lattice={"shape": [16, 16]}, immune={"enabled": immune})
    be = make_backend(backend, [cfg], [initial_state(cfg)])
    phased = be.runs[0] if backend == "numpy" else be  # the numpy batch steps reference runs one by one
    assert isinstance(phased, Backend)
    called = []
    for name in phase_order(True):
        method = getattr(phased, name)
        monkeypatch.setattr(phased, name, lambda sp, events, name=name, method=method: (called.append(name),
                                                                                        method(sp, events)))
    events = be.step()
    assert called == list(phase_order(immune))
    assert int(be.steps[0]) == 1 and all(len(v) == 1 for v in events.values())
    assert be.describe() and be.bytes_per_site() > 0


def test_a_backend_missing_a_phase_cannot_be_made():
    class Partial(Backend):
        def host_state(self): ...
        def bytes_per_site(self): ...
        def describe(self): ...

    with pytest.raises(TypeError, match="tcell_kill"):
        Partial()
