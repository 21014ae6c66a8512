"""Train the learned layer of ``bot.intake`` from the labelled corpus, reproducibly.

    .venv/bin/python scripts/train_intake.py          # writes bot/intake_model.json
    .venv/bin/python scripts/train_intake.py --cv     # also prints 5-fold cross-validated margins …
    .venv/bin/python scripts/train_intake.py --cv-classify   # … and bot.intake.classify's recall and
                                                             # false reports with each fold's model

The model is a logistic regression (report against everything else) over the character 1-, 2- and
3-grams of each message (as ``bot.intake.normalize`` leaves it, counted once per message), trained by
plain stochastic gradient descent with L2 regularisation and a fixed seed, on ``tests/corpus/messages.tsv``
only; ``tests/corpus/heldout.tsv`` and ``heldout2.tsv`` are never read here, so the figures on them stay
honest.  A logistic regression weighs every n-gram against all the others (naive Bayes counted each
alone and grew over-sure on long messages); its margin is a log-odds that stays in a sane range, so
``bot.intake`` can use it both to confirm the rules' reports and to catch reports worded in ways the
rules have no words for.  Only n-grams seen in at least two messages are kept (fewer, surer weights).
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.intake import SCALE_POWER, grams  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "messages.tsv"
MODEL = ROOT / "bot" / "intake_model.json"
EPOCHS, RATE, L2, MIN_DOCS, SEED = 30, 0.2, 1e-4, 2, 13


def load() -> list[tuple[str, bool]]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["text"], r["kind"] == "report") for r in rows]


def train(rows: list[tuple[str, bool]]) -> tuple[float, dict[str, float]]:
    """(bias, weight per n-gram) of a logistic regression on ``rows``."""
    docs = Counter(g for text, _ in rows for g in set(grams(text)))
    vocabulary = {g for g, n in docs.items() if n >= MIN_DOCS}
    data = [([g for g in set(grams(text)) if g in vocabulary], label) for text, label in rows]
    positive = sum(1 for _, label in data if label)
    balance = {True: len(data) / (2 * positive), False: len(data) / (2 * (len(data) - positive))}
    weights: dict[str, float] = dict.fromkeys(sorted(vocabulary), 0.0)
    bias = 0.0
    order = list(range(len(data)))
    rng = random.Random(SEED)
    for epoch in range(EPOCHS):
        rng.shuffle(order)
        rate = RATE / (1 + epoch * 0.2)
        for i in order:
            features, label = data[i]
            scale = 1 / max(1, len(features)) ** SCALE_POWER
            z = bias + scale * sum(weights[g] for g in features)
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
            gradient = (p - label) * balance[label]
            bias -= rate * gradient
            for g in features:
                weights[g] -= rate * (gradient * scale + L2 * weights[g])
    return bias, {g: round(w, 4) for g, w in weights.items() if abs(w) >= 1e-3}


def cross_validate(rows: list[tuple[str, bool]], folds: int = 5) -> None:
    """Print, per threshold, recall and false reports of margins the model gave messages it did not see."""
    from bot.intake import learned_margin_with

    shuffled = rows[:]
    random.Random(SEED).shuffle(shuffled)
    margins: list[tuple[float, bool]] = []
    for k in range(folds):
        test = shuffled[k::folds]
        bias, weights = train([r for i, r in enumerate(shuffled) if i % folds != k])
        margins += [(learned_margin_with(bias, weights, text), label) for text, label in test]
    for at in (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0):
        found = sum(1 for m, label in margins if label and m > at) / sum(1 for _, label in margins if label)
        false = sum(1 for m, label in margins if not label and m > at) / sum(1 for _, lb in margins if not lb)
        print(f"margin > {at:+.0f}: recall {found:.1%}, other messages over it {false:.1%}")


def cross_validate_classifier(folds: int = 5) -> tuple[float, float]:
    """(report recall, share of chatter answered) of ``bot.intake.classify`` — rules and model — on
    each fifth of the corpus with a model trained on the other four (how CONFIRM_AT and the LEARNED_*
    thresholds were chosen, without looking at the held-out files)."""
    import bot.intake as intake

    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = [(r["text"], r["kind"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    random.Random(SEED).shuffle(rows)
    reports = missed = chatter = answered = 0
    saved = intake._model
    try:
        for k in range(folds):
            model = train([(text, kind == "report") for i, (text, kind) in enumerate(rows) if i % folds != k])
            intake._model = lambda model=model: model  # type: ignore[assignment]
            for text, kind in rows[k::folds]:
                reading = intake.classify(text).kind
                if kind == "report":
                    reports, missed = reports + 1, missed + (reading != "report")
                elif kind == "chatter":
                    chatter, answered = chatter + 1, answered + (reading != "chatter")
    finally:
        intake._model = saved
    return 1 - missed / reports, answered / chatter


def main() -> int:
    rows = load()
    bias, weights = train(rows)
    model = {"kind": "logistic", "bias": round(bias, 4), "weights": weights}
    MODEL.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{MODEL.relative_to(ROOT)}: {len(rows)} messages, {len(weights):,} n-grams, "
          f"{MODEL.stat().st_size / 1024:.0f} KB")
    if "--cv" in sys.argv:
        cross_validate(rows)
    if "--cv-classify" in sys.argv:
        recall, false = cross_validate_classifier()
        print(f"classify, 5-fold: report recall {recall:.1%}, chatter answered {false:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
