"""``python -m ieegrecon.cli``: the command line (what ``torchrun -m ieegrecon.cli pretrain ...`` runs)."""

from . import main

if __name__ == "__main__":
    main()
