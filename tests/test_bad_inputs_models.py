"""Bad input at a task model's door: one clear ValueError naming the field, never an
error from deep inside torch, never a silent wrong answer."""

import numpy as np
import pytest
import torch

from seqlab.data import Batch
from seqlab.models import build_model


def _classifier(**inputs):
    return build_model("classifier", {"inputs": inputs or {"input_size": 2}, "num_classes": 3})


@pytest.mark.parametrize(
    "batch, match",
    [
        (
            Batch(np.zeros((2, 4, 2), np.float32)),
            r"batch\.inputs must be a torch\.Tensor, got ndarray",
        ),
        (
            Batch(torch.zeros(2, 4, 2, dtype=torch.float64)),
            "are torch.float64 but the model's parameters are torch.float32",
        ),
        (Batch(torch.zeros(2, 0, 2)), r"with B, T >= 1, got shape \(2, 0, 2\)"),
        (Batch(torch.zeros(4)), r"got shape \(4,\)"),
        (Batch(torch.zeros(2, 4, 2), lengths=torch.tensor([4.0, 2.0])), "1-D integer tensor"),
        (Batch(torch.zeros(2, 4, 2), lengths=[4, 2.5]), "whole numbers"),
        (
            Batch(torch.zeros(2, 4, 2), targets=[0, 1]),
            r"batch\.targets must be a torch\.Tensor, got list",
        ),
        ("not a batch", "batch must be a seqlab.data.Batch, got str"),
    ],
)
def test_bad_batches_are_named(batch, match):
    with pytest.raises(ValueError, match=match):
        _classifier()(batch)


def test_lengths_as_a_list_are_taken():
    model = _classifier().eval()
    x = torch.randn(2, 4, 2)
    a = model(Batch(x, lengths=[4, 2])).prediction
    b = model(Batch(x, lengths=torch.tensor([4, 2]))).prediction
    assert torch.equal(a, b)


def test_a_float64_model_takes_float64_inputs():
    model = _classifier().double()
    assert model(Batch(torch.zeros(2, 3, 2, dtype=torch.float64))).prediction.dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prompt="hello"), "prompt must be token ids, got a string"),
        (dict(prompt=[4.5, 5.0]), "prompt must be integer token ids, got dtype torch.float"),
        (dict(prompt=[4, 99]), r"prompt id 99 is not in \[0, vocab_size=10\)"),
        (dict(prompt=[4], top_k=2.5), "top_k must be a positive int or None, got 2.5"),
        (dict(prompt=[4], top_p=0.0), r"top_p must be a number in \(0.0, 1.0\] or None"),
        (dict(prompt=[4], temperature=-1), "temperature must be a number > 0"),
        (dict(prompt=[4], eos_id=10), r"eos_id must be an int in \[0, 9\] or None, got 10"),
        (dict(prompt=[4], max_new_tokens=2.0), "max_new_tokens must be an int >= 0, got 2.0"),
    ],
)
def test_bad_generation_arguments_are_named(kwargs, match):
    lm = build_model("language_model", {"inputs": {"vocab_size": 10}})
    kwargs.setdefault("max_new_tokens", 3)
    with pytest.raises(ValueError, match=match):
        lm.generate(**kwargs)


def test_float_targets_for_a_language_model_are_refused():
    lm = build_model("language_model", {"inputs": {"vocab_size": 10}})
    ids = torch.randint(4, 10, (2, 5))
    with pytest.raises(ValueError, match="targets must be the next token ids"):
        lm(Batch(ids, targets=ids.float()))


def test_a_prompt_outside_the_vocabulary_warns_once_or_fails_when_strict(tmp_path):
    from seqlab import run_config, train_run

    text = tmp_path / "t.txt"
    text.write_text("abab " * 100)
    run = train_run(run_config({"task": "language_model", "data": {"train": str(text), "batch_size": 4, "bptt": 8},
                                "train": {"max_steps": 1, "progress": False}}))  # fmt: skip
    with pytest.warns(
        UserWarning, match=r"prompt tokens \['z'\] are not in the vocabulary: read as <unk>"
    ):
        run.task.generate(run.model, "abz", 3, greedy=True)
    with pytest.raises(ValueError, match="use tokens the run was trained on"):
        run.task.generate(run.model, "abz", 3, strict=True)


@pytest.mark.parametrize(
    "kind, config, match",
    [
        (
            "classifier",
            {"inputs": {"vocab_size": 9}, "dropout": -0.1},
            r"dropout must be a number in \[0.0, 1.0\), got -0.1",
        ),
        (
            "classifier",
            {"inputs": {"vocab_size": 9}, "num_classes": 2.5},
            "num_classes: expected an int, got 2.5",
        ),
        (
            "tagger",
            {"inputs": {"vocab_size": 9}, "num_tags": 1},
            "num_tags must be an int >= 2, got 1",
        ),
        (
            "language_model",
            {"inputs": {"vocab_size": 9}, "pad_id": 9},
            r"pad_id must be an int in \[0, 8\], got 9",
        ),
        (
            "seq2seq",
            {"inputs": {"vocab_size": 9}, "tgt_vocab_size": 9, "eos_id": 0},
            "pad_id, bos_id and eos_id must differ",
        ),
        (
            "seq2seq",
            {"inputs": {"vocab_size": 9}, "tgt_vocab_size": 9, "eos_id": 12},
            r"eos_id must be an int in \[0, 8\], got 12",
        ),
        (
            "seq2seq",
            {"inputs": {"vocab_size": 9}, "tgt_vocab_size": 9, "teacher_forcing": 1.5},
            "teacher_forcing must be a number in",
        ),
    ],
)
def test_model_config_values_are_checked(kind, config, match):
    with pytest.raises(ValueError, match=match):
        build_model(kind, config)


def test_python_configs_get_the_checks_yaml_gets():
    from seqlab.models import ClassifierConfig, InputConfig

    with pytest.raises(ValueError, match="dropout must be a number"):
        ClassifierConfig(InputConfig(vocab_size=9), dropout="0.1")
    with pytest.raises(ValueError, match="embedding_dim must be a positive int"):
        InputConfig(vocab_size=9, embedding_dim=0)
