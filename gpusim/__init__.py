"""gpusim: lattice simulation of cancer immunotherapy, byte-identical on CPU and GPU.

Importing gpusim loads neither CuPy nor a compiler; backends load lazily.

>>> import gpusim
>>> cfg = gpusim.Config.model_validate({"lattice": {"shape": [32, 32]},
...                                     "simulation": {"steps": 20}})
>>> sim = gpusim.Simulation(cfg, backend="numpy")
>>> sim.run()["tumour_cells"] > 0
True
"""

from .version import __version__

__all__ = ["Config", "Simulation", "config_path", "load_config", "open_run", "resume_run", "run_batch",
           "run_to_file", "__version__"]

# Loaded on first use: ``import gpusim`` (and so the command line's start-up,
# when a Ctrl-C may come) stays light; open_run needs h5py and pandas.
_LAZY = {"Config": "config", "load_config": "config", "run_batch": "batch", "Simulation": "simulation",
         "resume_run": "simulation", "run_to_file": "simulation", "config_path": "scenarios", "open_run": "analysis"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'gpusim' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
