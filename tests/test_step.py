"""gpusim/step.py: one phase order and one interface for every backend."""

from __future__ import annotations

import pytest

from conftest import make_config
from gpusim.backends import make_backend
from gpusim.state import initial_state
from gpusim.step import PHASES, BatchBackend, PhaseRunner, phase_order


def test_immune_phases_are_skipped_without_the_immune_system():
    assert phase_order(make_config()) == ("chemokine", "tcell_recruit", "tcell_kill", "tumour_death",
                                          "tumour_divide", "tcell_migrate", "tcell_death")  # DESIGN §4
    assert phase_order(make_config(immune={"enabled": False})) == ("tumour_death", "tumour_divide")
    assert [p.position for p in PHASES] == sorted(p.position for p in PHASES)


@pytest.mark.parametrize("immune", [True, False])
def test_backends_run_the_phases_in_order(backend, immune, monkeypatch):
    cfg = make_config(lattice={"shape": [16, 16]}, immune={"enabled": immune})
    be = make_backend(backend, [cfg], [initial_state(cfg)])
    phased = be.runs[0] if backend == "numpy" else be  # the numpy batch steps reference runs one by one
    assert isinstance(be, BatchBackend) and isinstance(phased, PhaseRunner)
    called = []
    run_phase = phased.run_phase
    monkeypatch.setattr(phased, "run_phase", lambda phase, sp, events: (called.append(phase.name),
                                                                        run_phase(phase, sp, events)))
    events = be.step()
    assert called == list(phase_order(cfg))
    assert int(be.steps[0]) == 1 and all(len(v) == 1 for v in events.values())
    assert be.describe() and be.bytes_per_site() > 0


def test_every_phase_has_a_function_on_every_backend():
    for phase in PHASES:
        assert callable(phase.function("engine")) and callable(phase.function("reference")), phase.name


def test_the_kernel_engine_and_the_reference_batch_share_one_interface():
    import inspect

    from gpusim.engine.backend import KernelBackend
    from gpusim.reference.backend import ReferenceBatch

    names = [n for n, v in vars(BatchBackend).items() if not n.startswith("_") and callable(v)]
    assert {"step", "observe", "retire", "run_state", "host_state"} <= set(names)
    for name in names:
        a, b = getattr(KernelBackend, name), getattr(ReferenceBatch, name)
        assert inspect.signature(a).parameters.keys() == inspect.signature(b).parameters.keys(), name
    assert not KernelBackend.__abstractmethods__ and not ReferenceBatch.__abstractmethods__
