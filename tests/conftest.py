import pytest
import torch

# The suite runs on two cores with two pytest workers: one torch thread per worker keeps
# them from oversubscribing the cores (small recurrent loops slow down many-fold).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
