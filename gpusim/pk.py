"""Antibody pharmacokinetics: a linear two-compartment model, solved in
closed form on the host in float64 (DESIGN §10).

An IV dose D (mg) at day d gives the central concentration (mg/L = ug/mL)
D (A e^{-alpha (t-d)} + B e^{-beta (t-d)}) for t >= d, with the macro rate
constants alpha > beta of k10 = CL/V1, k12 = Q/V1, k21 = Q/V2 and
A = (alpha - k21) / ((alpha - beta) V1), B = (k21 - beta) / ((alpha - beta) V1).
Doses add (the model is linear), so a schedule's concentration is the sum
over the doses given so far: no ODE solver.  Infusions (30-60 min) are
taken as boluses: the error is confined to the first hour after a dose.

Occupancy of the target is an Emax/Hill curve of the concentration,
C^h / (C^h + EC50^h).

Population defaults (:data:`DRUGS`), typical values at the papers'
reference body weight, with the weight exponents of their covariate models
(CL and Q share one, V1 and V2 the other where the paper says so; where a
paper scales only CL and V1, Q and V2 have exponent 0):

* nivolumab (anti-PD-1, IgG4): Bajaj et al. 2017, CPT Pharmacometrics Syst
  Pharmacol 6:58, Table 3 -- CL 0.23 L/day (9.5 mL/h), V1 3.63 L, Q 0.770
  L/day, V2 2.78 L at 80 kg; CL ~ BW^0.566, V1 ~ BW^0.597.  (The paper's
  time-varying decrease of CL, up to -29 % after months, is left out: this
  model is time-invariant.)
* pembrolizumab (anti-PD-1, IgG4): Ahamadi et al. 2017, CPT Pharmacometrics
  Syst Pharmacol 6:49, Table 3 -- CL 0.22 L/day, V1 3.48 L, Q 0.795 L/day,
  V2 4.06 L at 76.8 kg; CL, Q ~ BW^0.595, V1, V2 ~ BW^0.489.
* ipilimumab (anti-CTLA-4, IgG1): Feng et al. 2014, Br J Clin Pharmacol
  78:106 (the abstract the issue calls "Feng 2013") -- CL 0.36 L/day, V1
  4.15 L, Q 0.986 L/day, V2 3.11 L at 80 kg; CL ~ BW^0.642, V1 ~ BW^0.708;
  terminal half-life about 15 days.

EC50: the antibody's binding affinity for its target (KD), in ug/mL with
its molecular weight: nivolumab KD 3.06 nM (Wang et al. 2014, Cancer
Immunol Res 2:846), pembrolizumab KD 29 pM (EMA assessment report of
Keytruda, 2015), ipilimumab KD 5.25 nM (the affinity used by published
QSP models of ipilimumab; its primary source is not checked here).  Hill coefficient 1 (one binding
site per receptor).

>>> niv = DRUGS["nivolumab"]
>>> round(float(terminal_half_life_days(niv.pk())), 1)
20.5
>>> c = concentration(niv.pk(), [240.0], [0.0], 0.0)      # 3 mg/kg at 80 kg, just after the dose
>>> round(float(c), 2)                                     # = dose / V1
66.12
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class TwoCompartment:
    """CL, V1, Q, V2 of one patient (floats) or of many (float64 arrays)."""

    clearance_l_per_day: float | np.ndarray
    v1_l: float | np.ndarray
    q_l_per_day: float | np.ndarray
    v2_l: float | np.ndarray

    def macro(self):
        """(alpha, beta, A, B): the bi-exponential of a unit bolus, per litre."""
        k10 = self.clearance_l_per_day / self.v1_l
        k12 = self.q_l_per_day / self.v1_l
        k21 = self.q_l_per_day / self.v2_l
        s = k10 + k12 + k21
        root = np.sqrt(s * s - 4.0 * k10 * k21)
        alpha, beta = (s + root) / 2.0, (s - root) / 2.0
        a = (alpha - k21) / ((alpha - beta) * self.v1_l)
        b = (k21 - beta) / ((alpha - beta) * self.v1_l)
        return alpha, beta, a, b


@dataclass(frozen=True)
class Drug:
    """A population PK model and target binding of one antibody."""

    name: str
    target: str  # "PD-1", "PD-L1" or "CTLA-4"
    clearance_l_per_day: float
    v1_l: float
    q_l_per_day: float
    v2_l: float
    reference_weight_kg: float
    weight_exponents: tuple[float, float, float, float]  # on CL, V1, Q, V2
    ec50_ug_per_ml: float
    hill: float = 1.0
    source: str = ""

    def pk(self, weight_kg=None, clearance_factor=1.0, volume_factor=1.0) -> TwoCompartment:
        """The model of a patient of ``weight_kg`` (default: the reference
        weight), clearances and volumes times the patient's factors."""
        w = self.reference_weight_kg if weight_kg is None else weight_kg
        r = np.asarray(w, dtype=np.float64) / self.reference_weight_kg
        e_cl, e_v1, e_q, e_v2 = self.weight_exponents
        return TwoCompartment(self.clearance_l_per_day * r**e_cl * clearance_factor,
                              self.v1_l * r**e_v1 * volume_factor,
                              self.q_l_per_day * r**e_q * clearance_factor,
                              self.v2_l * r**e_v2 * volume_factor)

    def with_(self, **changes) -> Drug:
        return replace(self, **changes)


def _ug_per_ml(kd_nm: float, kda: float) -> float:
    return kd_nm * kda / 1000.0  # nmol/L x g/mmol... = ug/L / 1000 -> ug/mL


#: Population defaults by drug name (module docstring: sources).
DRUGS: dict[str, Drug] = {
    "nivolumab": Drug("nivolumab", "PD-1", 0.23, 3.63, 0.770, 2.78, 80.0, (0.566, 0.597, 0.0, 0.0),
                      _ug_per_ml(3.06, 146.0), source="Bajaj 2017 CPT:PSP 6:58; KD Wang 2014"),
    "pembrolizumab": Drug("pembrolizumab", "PD-1", 0.22, 3.48, 0.795, 4.06, 76.8, (0.595, 0.489, 0.595, 0.489),
                          _ug_per_ml(0.029, 149.0), source="Ahamadi 2017 CPT:PSP 6:49; KD EMA 2015"),
    "ipilimumab": Drug("ipilimumab", "CTLA-4", 0.36, 4.15, 0.986, 3.11, 80.0, (0.642, 0.708, 0.0, 0.0),
                       _ug_per_ml(5.25, 148.0), source="Feng 2014 Br J Clin Pharmacol 78:106"),
}


def concentration(pk: TwoCompartment, doses_mg, dose_days, t: float):
    """Central concentration (ug/mL) at day ``t`` after boluses ``doses_mg[k]``
    (one float, or one array over patients, per dose) at ``dose_days[k]``.

    Doses are added one at a time in schedule order, element by element, so
    a patient's value does not depend on how many others are computed with it.
    """
    alpha, beta, a, b = pk.macro()
    total = np.zeros(np.shape(alpha), dtype=np.float64)
    for dose, day in zip(doses_mg, dose_days):
        if day <= t:
            tau = t - day
            total = total + dose * (a * np.exp(-alpha * tau) + b * np.exp(-beta * tau))
    return total


def terminal_half_life_days(pk: TwoCompartment):
    """ln 2 / beta: the half-life of the terminal phase."""
    return math.log(2.0) / pk.macro()[1]


def steady_state_peak(pk: TwoCompartment, dose_mg: float, interval_days: float):
    """Concentration just after a dose at steady state (closed form: each
    exponential's geometric series, 1 / (1 - e^{-lambda tau}))."""
    alpha, beta, a, b = pk.macro()
    return dose_mg * (a / -np.expm1(-alpha * interval_days) + b / -np.expm1(-beta * interval_days))


def occupancy(c, ec50: float, hill: float = 1.0):
    """Emax/Hill target occupancy C^h / (C^h + EC50^h), in [0, 1].

    >>> float(occupancy(1.0, 1.0)), float(occupancy(0.0, 1.0))
    (0.5, 0.0)
    """
    c = np.asarray(c, dtype=np.float64)
    ch = c if hill == 1.0 else c**hill
    return ch / (ch + (ec50 if hill == 1.0 else ec50**hill))
