"""Click commands behind the ``vidcolor`` entry point, one module per subcommand."""
