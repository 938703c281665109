from pathlib import Path

import pytest
import torch

from asen.toydata import make_toy_dataset

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    """A small read-only toy dataset shared by the tests (copy it before modifying)."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy") / "Toy")
