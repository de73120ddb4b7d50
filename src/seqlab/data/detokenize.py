"""``detokenize``: word tokens joined with spaces back to normal text, for BLEU and output.

The word tokenizer (:class:`~seqlab.data.tokenizers.WordTokenizer`) splits punctuation
off; ``" ".join`` then gives ``"Hello , world !"``, which BLEU's own 13a tokenization
scores differently from the reference text. The rules (a subset of Moses'
detokenizer): no space before closing punctuation ``. , ; : ! ? ) ] } %``, none after
opening ``( [ {`` or currency, and straight double quotes alternate opening and closing.

>>> detokenize(["And", "God", "said", ",", "Let", "there", "be", "light", ":"])
'And God said, Let there be light:'
>>> detokenize(["He", "said", '"', "yes", '"', "(", "twice", ")", "."])
'He said "yes" (twice).'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["detokenize"]

CLOSING = set(".,;:!?)]}%") | {"...", "'s", "n't"}
OPENING = set("([{$£€¿¡")


def detokenize(tokens: Sequence[str]) -> str:
    out: list[str] = []
    quote_open = False
    glue = True  # no space before the next token
    for tok in tokens:
        if tok == '"':
            if quote_open:  # a closing quote sticks to what precedes it
                out.append(tok)
                glue = False
            else:
                out.append(tok if glue else " " + tok)
                glue = True
            quote_open = not quote_open
            continue
        if tok in CLOSING or glue:
            out.append(tok)
        else:
            out.append(" " + tok)
        glue = tok in OPENING
    return "".join(out)
