"""``python -m asen`` (also what ``torchrun -m asen`` runs)."""
import sys

from .cli import main

sys.exit(main())
