"""Built-in console effects, registered through the ``console`` entry point."""
