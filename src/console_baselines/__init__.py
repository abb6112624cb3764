"""Built-in baseline mixers: mono, random, equal loudness and a Mix-Wave-U-Net.

They register through the ``console`` entry point like any third-party
plugin; ``console evaluate`` compares them with trained consoles.
"""
