"""The ``console`` command line: one module per subcommand."""
