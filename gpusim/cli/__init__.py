"""The ``gpusim`` command line (DESIGN §5): one module per subcommand."""
