"""Write examples/data/names.conll: a small synthetic BIO-tagged corpus (PER, LOC).

No license-clean English NER corpus installs offline, so this file is generated here,
deterministically (seeded), and committed. Run: python examples/data/make_names_conll.py
"""

import random
from pathlib import Path

PEOPLE = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Mary", "John", "Emmy Noether",
          "Claude Shannon", "Sophie", "Carl Gauss", "Rosalind Franklin"]  # fmt: skip
PLACES = ["London", "Paris", "New York", "Cambridge", "Berlin", "Rome", "Lisbon",
          "San Francisco", "Kyoto", "Oslo"]  # fmt: skip
PATTERNS = [
    "{P} lives in {L} .",
    "{P} met {P} in {L} yesterday .",
    "In {L} , {P} gave a talk .",
    "the train from {L} to {L} was late .",
    "{P} wrote to {P} .",
    "we visited {L} and then {L} .",
    "nobody expected the results .",
    "{P} moved from {L} to {L} in the spring .",
]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for word in rng.choice(PATTERNS).split():
        if word in ("{P}", "{L}"):
            name = rng.choice(PEOPLE if word == "{P}" else PLACES).split()
            kind = "PER" if word == "{P}" else "LOC"
            out += [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(name)]
        else:
            out.append((word, "O"))
    return out


def main() -> None:
    rng = random.Random(0)
    lines = []
    for _ in range(600):
        lines += [f"{w}\t{t}" for w, t in sentence(rng)] + [""]
    path = Path(__file__).with_name("names.conll")
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
