"""Building blocks: plain ``torch.nn.Module``s, no training logic."""

from .cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .recurrent import GRU, LSTM, RNN, Recurrent, reverse_padded

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "Recurrent",
    "RecurrentCell",
    "reverse_padded",
]
