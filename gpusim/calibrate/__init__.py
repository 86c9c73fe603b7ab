"""Calibration: fit model parameters to data by ABC-SMC (pyABC), each
generation simulated as batched cohorts (``gpusim calibrate``).

* :mod:`.spec` the TOML spec (base config, arms, priors, data, settings);
* :mod:`.data` the tidy data table and its checks;
* :mod:`.simulate` particles -> batched runs -> summary statistics;
* :mod:`.sampler` the pyABC sampler that hands a generation to the simulator;
* :mod:`.run` the driver, outputs and resume; :mod:`.plots` the figures.

pyABC is an optional dependency (``pip install 'gpusim[calibrate]'``):
importing this package does not import it.
"""
