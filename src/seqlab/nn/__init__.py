"""Building blocks: plain ``torch.nn.Module``s, no training logic."""

from .attention import AdditiveAttention, Attention, MultiplicativeAttention
from .cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .downsample import Conv1dDownsample
from .embedding import Embedding, OneHot, check_token_ids
from .recurrent import GRU, LSTM, RNN, Recurrent, reverse_padded
from .streaming import DilatedTaps
from .tcn import TCN, CausalConv1d, TCNStream, TemporalBlock, receptive_field
from .wavenet import WaveNet, WaveNetStream

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "TCN",
    "CausalConv1d",
    "Conv1dDownsample",
    "DilatedTaps",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "Recurrent",
    "RecurrentCell",
    "TCNStream",
    "TemporalBlock",
    "WaveNet",
    "WaveNetStream",
    "receptive_field",
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
