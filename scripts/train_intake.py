"""Train the learned layer of ``bot.intake`` from the labelled corpus, reproducibly.

    .venv/bin/python scripts/train_intake.py     # writes bot/intake_model.json

The model is a multinomial naive Bayes over the character 1-, 2- and 3-grams of each message (as
``bot.intake.normalize`` leaves it), counted once per message, trained on ``tests/corpus/messages.tsv``
only; ``tests/corpus/heldout.tsv`` is never read here, so the figures on it stay honest.  The rules of
``bot.intake`` decide first; the model confirms their reports and catches reports worded in ways the
rules have no words for (see ``bot.intake.classify``).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.intake import CLASSES, grams  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "messages.tsv"
MODEL = ROOT / "bot" / "intake_model.json"


def main() -> int:
    with CORPUS.open(encoding="utf-8") as f:
        rows = [(r["text"].replace("\\n", "\n"), r["kind"]) for r in csv.DictReader(f, delimiter="\t")]
    docs = Counter(kind for _, kind in rows)
    counts: dict[str, list[int]] = {}
    for text, kind in rows:
        for gram in set(grams(text)):
            counts.setdefault(gram, [0] * len(CLASSES))[CLASSES.index(kind)] += 1
    model = {"classes": list(CLASSES), "docs": [docs[c] for c in CLASSES],
             "counts": dict(sorted(counts.items()))}
    MODEL.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{MODEL.relative_to(ROOT)}: {len(rows)} messages, {len(counts):,} n-grams, "
          f"{MODEL.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
