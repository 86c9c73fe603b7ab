# Root conftest: keep pytest's doctest collection away from the CLI entry module.
collect_ignore = ["gpusim/__main__.py"]
