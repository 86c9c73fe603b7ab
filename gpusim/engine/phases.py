"""The kernel engine's phase functions of the tumour, T-cell and chemokine
components (:mod:`gpusim.components` names them), each over every active
run of a :class:`~gpusim.engine.backend.KernelBackend`: ``fn(be, bs,
events)`` with the step's :class:`~gpusim.engine.backend.BatchStep`."""

from __future__ import annotations

from . import chemokine as _chemokine
from . import tcell, tumour


def chemokine(be, bs, events: dict) -> None:
    _chemokine.run_step(be)


def tcell_recruit(be, bs, events: dict) -> None:
    tcell.recruit(be, bs.transfers)


def tcell_kill(be, bs, events: dict) -> None:
    tcell.kill(be)


def tumour_death(be, bs, events: dict) -> None:
    tumour.death(be)


def tumour_divide(be, bs, events: dict) -> None:
    events["new_clones"] = tumour.divide(be)


def tcell_migrate(be, bs, events: dict) -> None:
    tcell.migrate(be)


def tcell_death(be, bs, events: dict) -> None:
    tcell.death(be)
