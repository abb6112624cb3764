"""An example console plugin: one effect, registered through an entry point."""
