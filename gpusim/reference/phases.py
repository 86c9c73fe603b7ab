"""The NumPy reference's phase functions of the tumour and T-cell
components (:mod:`gpusim.components` names them), each on one
run of a :class:`~gpusim.reference.backend.ReferenceBackend`: ``fn(be, sp,
events)`` with the step's :class:`~gpusim.params.StepParams`."""

from __future__ import annotations

from . import tcell, tumour


def tcell_recruit(be, sp, events: dict) -> None:
    tcell.recruit(be.state, be.mp, sp, events)


def tcell_kill(be, sp, events: dict) -> None:
    tcell.kill(be.state, be.mp, sp, events)


def tumour_death(be, sp, events: dict) -> None:
    tumour.death(be.state, be.mp, sp, events)


def tumour_divide(be, sp, events: dict) -> None:
    tumour.divide(be.state, be.mp, events)


def tcell_migrate(be, sp, events: dict) -> None:
    tcell.migrate(be.state, be.mp)


def tcell_death(be, sp, events: dict) -> None:
    tcell.death(be.state, be.mp, sp, events)
