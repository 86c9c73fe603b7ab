"""The kernel engine's phase functions of the tumour and T-cell
components (:mod:`gpusim.components` names them), each over every active
run of a :class:`~gpusim.engine.backend.KernelBackend`: ``fn(be, bs,
events)`` with the step's :class:`~gpusim.engine.backend.BatchStep`."""

from __future__ import annotations

from . import tcell, tumour


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
