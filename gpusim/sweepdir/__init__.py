"""A sweep as data: its spec, its runs and its directory -- what running,
analysing and plotting a sweep all read, so it sits below
:mod:`gpusim.sweep` (running), :mod:`gpusim.analysis` and :mod:`gpusim.plots`.

* :mod:`.spec`    the sweep spec (TOML, pydantic): base, grid, random, arms, replicates
* :mod:`.runs`    expansion into runs; stable run ids and seeds
* :mod:`.store`   the sweep directory: layout, run status, lock

The summary table (``summary.h5``, ``gpusim summarize DIR``) is
:mod:`gpusim.analysis.sweep_summary`; the sweep figure :mod:`gpusim.plots.sweep`.
"""
