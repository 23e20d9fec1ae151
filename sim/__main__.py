"""``python -m sim``: the dmesim command."""

from .cli import main

main(prog_name="dmesim")
