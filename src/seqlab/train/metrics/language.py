"""Language-model metrics: perplexity and bits per character, from the mean negative
log-likelihood per token in nats (what the models' cross-entropy loss is).

Trivial baseline to beat: a uniform guess over V tokens, perplexity V, log2 V bits.

>>> import math
>>> round(perplexity(math.log(10.0)), 6), bits_per_char(math.log(2.0))
(10.0, 1.0)
"""

from __future__ import annotations

import math

__all__ = ["bits_per_char", "perplexity"]


def perplexity(mean_nll: float) -> float:
    """``exp`` of the mean negative log-likelihood per token (in nats)."""
    return math.exp(mean_nll)


def bits_per_char(mean_nll: float) -> float:
    """Mean negative log-likelihood per character in bits: nats / ln 2."""
    return mean_nll / math.log(2.0)
