"""Building blocks: plain ``torch.nn.Module``s, no training logic."""

from .attention import AdditiveAttention, Attention, MultiplicativeAttention
from .cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .embedding import Embedding, OneHot, check_token_ids
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
__all__ += [
    "AdditiveAttention",
    "Attention",
    "Embedding",
    "MultiplicativeAttention",
    "OneHot",
    "check_token_ids",
]
