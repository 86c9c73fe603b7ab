"""A pyABC sampler that simulates a whole generation as one batch.

pyABC hands a sampler ``simulate_one``: a closure that proposes a
parameter (from the prior, or by perturbing the last population), calls
the model on it, computes the distance and decides acceptance.  The model
call is in the middle, so a plain sampler runs one simulation at a time.

:class:`BatchSampler` keeps pyABC's closure intact and gathers the model
calls instead: it starts ``simulate_one`` for k particles, each in its own
thread, one after another; each runs until it reaches the model
(:class:`BatchModel`), hands over its parameters and parks.  When all k
have parked, their parameters go to the simulator in one batch
(:class:`gpusim.calibrate.simulate.Simulator`, a cohort on the backend);
then the threads are released, again one after another, each finishing
its distance and acceptance with its own result.  Only one thread runs at
any time, in a fixed order, so pyABC's random draws happen in the same
order on every run: a generation is a deterministic function of its seed
(the sampler reseeds NumPy's global generator, which pyABC draws from, at
the start of each generation).

k is chosen so that one batch is expected to give the accepted particles
still missing (the last generation's acceptance rate, at least the
population size, at most ``max_batch``); the accepted particles are taken
in order of proposal until the population is full, and the rest are
discarded, as pyABC's own parallel samplers do (no bias towards runs that
finish first).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading

import numpy as np
import pyabc

from ..progress import flush_notices

log = logging.getLogger("gpusim")


class _Slot:
    """One particle's ``simulate_one`` in its own thread."""

    def __init__(self):
        self.params = None
        self.result = None
        self.particle = None
        self.error: BaseException | None = None
        self.parked = threading.Event()  # reached the model (or finished)
        self.resume = threading.Event()
        self.done = threading.Event()

    def run(self, simulate_one) -> None:
        _current.slot = self
        try:
            self.particle = simulate_one()
        except BaseException as err:  # handed to the main thread, which raises it
            self.error = err
        finally:
            self.parked.set()
            self.done.set()


_current = threading.local()


class BatchModel(pyabc.Model):
    """The model pyABC calls: inside a :class:`BatchSampler` generation it
    parks the calling thread until the batch is simulated."""

    def __init__(self, names: dict[str, str]):
        super().__init__(name="gpusim")
        self.names = names  # pyABC parameter name -> config key

    def sample(self, pars):
        slot = getattr(_current, "slot", None)
        values = {self.names[k]: float(pars[k]) for k in self.names}
        if slot is None:  # seeds derive from a particle's place in a generation, which only BatchSampler knows
            raise RuntimeError("BatchModel simulates inside a BatchSampler generation only")
        slot.params = values
        slot.parked.set()
        slot.resume.wait()
        return {"stats": slot.result}


class BatchSampler(pyabc.sampler.Sampler):
    """Simulates each generation's particles in batches (see the module)."""

    def __init__(self, simulator, seed: int, max_batch: int = 4096):
        super().__init__()
        self.simulator = simulator
        self.seed = seed
        self.max_batch = max_batch
        self.rate = 1.0  # acceptance rate of the last generation sampled

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
        np.random.seed(_generation_seed(self.seed, t))  # pyABC draws from NumPy's global generator
        sample = self._create_empty_sample()
        evaluated = 0
        while sample.n_accepted < n and evaluated < max_eval:
            missing = n - sample.n_accepted
            k = missing if all_accepted else math.ceil(missing / max(self.rate, 1e-3) * 1.1)
            k = int(min(max(k, n if evaluated == 0 else missing), self.max_batch, max_eval - evaluated))
            particles = self._batch(simulate_one, k, t, evaluated)
            for particle in particles:
                sample.append(particle)
                evaluated += 1
                if sample.n_accepted >= n:
                    break
        self.nr_evaluations_ = evaluated
        if evaluated:
            self.rate = max(sample.n_accepted / evaluated, 1e-3)
        self._progress(t, sample.n_accepted, evaluated, ana_vars)
        if sample.n_accepted < n:
            sample.ok = False
        return sample

    def _progress(self, t: int, accepted: int, evaluated: int, ana_vars) -> None:
        runs, particles, seconds = self.simulator.counter.per_generation.get(t, (0, 0, 0.0))
        eps = ana_vars.eps(t) if ana_vars is not None else math.nan
        log.info(f"generation {t}: epsilon {eps:.4g}; {accepted} accepted of {evaluated} particles "
                 f"({particles} simulated: {runs} runs in {seconds:.1f} s, "
                 f"{runs / seconds * 3600 if seconds else 0:.0f} runs/hour)")
        flush_notices()  # progress is news: out now, not held by the CLI until the command ends

    def _batch(self, simulate_one, k: int, t: int, first: int) -> list:
        slots = []
        for _ in range(k):  # one at a time: proposals drawn in a fixed order
            slot = _Slot()
            threading.Thread(target=slot.run, args=(simulate_one,), daemon=True).start()
            slot.parked.wait()
            if slot.error is not None:
                raise slot.error
            slots.append(slot)
        waiting = [s for s in slots if not s.done.is_set()]
        stats = self.simulator([s.params for s in waiting], t, first)
        for slot, result in zip(waiting, stats):
            slot.result = result
            slot.resume.set()
            slot.done.wait()  # one at a time again: acceptance decided in the same order
            if slot.error is not None:
                raise slot.error
        return [s.particle for s in slots]


def _generation_seed(seed: int, t: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:pyabc:{t}".encode()).digest()[:4], "little")
