"""The shipped scenario configs and sweep specs (``configs/*.toml``): inside
an installed wheel as ``gpusim/configs`` (found with importlib.resources),
or the source checkout's ``configs/`` folder.  So ``gpusim validate``, the
README's commands and the tutorial work the same after ``pip install .`` as
in a checkout.

>>> config_path("quickstart").name
'quickstart.toml'
>>> find_config("configs/quickstart.toml").is_file()  # here or shipped
True
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from .errors import InputError

log = logging.getLogger("gpusim")


def config_dir() -> Path:
    """The folder holding the shipped configs."""
    packaged = resources.files("gpusim") / "configs"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / "configs"


def config_path(name: str) -> Path:
    """The shipped config ``name`` (``quickstart`` or ``quickstart.toml``)."""
    path = config_dir() / (name if name.endswith(".toml") else f"{name}.toml")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in config_dir().glob("*.toml")))
        raise InputError(f"{name}: no such shipped config (choose from {known})")
    return path


def find_config(path: str | Path) -> Path:
    """``path`` if it exists; else, when it names a shipped config the way
    the README does (``configs/quickstart.toml`` or ``quickstart.toml``,
    from a folder that is not a checkout), the shipped one (said on stderr);
    else ``path`` unchanged, for the reader to report."""
    path = Path(path)
    if path.exists() or path.suffix != ".toml" or path.parent not in (Path("."), Path("configs")):
        return path
    shipped = config_dir() / path.name
    if not shipped.is_file():
        return path
    log.info("%s: not in this folder; using the shipped %s", path, shipped)
    return shipped
