"""Built-in track encoders, registered through the ``console`` entry point."""
