"""The parts together, as a user wires them: data -> task model -> trainer -> checkpoint
-> a rebuilt model that predicts the same."""

import torch
from torch.utils.data import DataLoader

from seqlab.config import to_dict
from seqlab.data import (
    BucketSampler,
    CharTokenizer,
    StreamChunks,
    Vocab,
    batchify,
    collate_classification,
)
from seqlab.models import build_model
from seqlab.train import Trainer, TrainerConfig, load_checkpoint

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def test_char_language_model_with_truncated_bptt_and_checkpoint(tmp_path):
    tokens = CharTokenizer()(TEXT)
    vocab = Vocab.build([tokens])
    ids = torch.tensor(vocab.encode(tokens))
    stream = batchify(ids, 4)  # (4, N/4): four parallel streams
    model_config = {
        "inputs": {"vocab_size": len(vocab), "embedding_dim": 16},
        "encoder": {"kind": "lstm", "hidden_size": 48},
    }
    model = build_model("language_model", model_config)
    config = TrainerConfig(
        epochs=8, optimizer={"lr": 1e-2}, tbptt={"stateful": True}, clip={"norm": 1.0}, checkpoints={"dir": str(tmp_path)},
        progress=False, seed=0, metrics=["bits_per_char"],
    )  # fmt: skip
    trainer = Trainer(
        model, config, model_config={"kind": model.kind, **to_dict(model.config)},
        extras={"vocab": vocab.to_dict()},
    )  # fmt: skip
    history = trainer.fit(StreamChunks(stream, 25), StreamChunks(stream, 25))
    # A uniform guess over the vocabulary costs log2(V) bits per character.
    uniform = torch.log2(torch.tensor(float(len(vocab)))).item()
    assert history[-1]["val_bits_per_char"] < 0.5 * uniform

    ckpt = load_checkpoint(tmp_path / "last")
    saved = dict(ckpt.config["model"])
    rebuilt = build_model(saved.pop("kind"), saved)
    load_checkpoint(tmp_path / "last", rebuilt)
    vocab2 = Vocab.from_dict(ckpt.extras["vocab"])
    prompt = torch.tensor(vocab2.encode(list("the quick")))
    model.eval()
    rebuilt.eval()
    a = model.generate(prompt, 20, greedy=True)
    b = rebuilt.generate(prompt, 20, greedy=True)
    assert torch.equal(a.cpu(), b)  # model stays where it trained (a GPU, if present)


def test_classifier_with_buckets_and_padding():
    gen = torch.Generator().manual_seed(0)
    # Class = whether token 5 occurs in the sequence; lengths vary 3..30.
    items = []
    for _ in range(256):
        n = int(torch.randint(3, 31, (1,), generator=gen))
        seq = torch.randint(6, 12, (n,), generator=gen)
        label = int(torch.rand(1, generator=gen) < 0.5)
        if label:
            seq[int(torch.randint(0, n, (1,), generator=gen))] = 5
        items.append((seq, label))
    sampler = BucketSampler([len(s) for s, _ in items], batch_size=32, seed=0)
    loader = DataLoader(items, batch_sampler=sampler, collate_fn=collate_classification)
    model = build_model(
        "classifier",
        {"inputs": {"vocab_size": 12, "embedding_dim": 8},
         "encoder": {"kind": "gru", "hidden_size": 24, "bidirectional": True},
         "pooling": "max"},
    )  # fmt: skip
    trainer = Trainer(
        model,
        TrainerConfig(
            epochs=12, optimizer={"lr": 1e-2}, progress=False, seed=0, metrics=["accuracy"]
        ),
    )
    trainer.fit(loader)
    assert trainer.evaluate(loader)["accuracy"] >= 0.95
