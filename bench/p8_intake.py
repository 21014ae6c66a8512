"""P8 free-text intake: how well ``bot.intake.classify`` tells reports, questions and chatter apart, and what
it costs a message.

Two labelled files of messages written the way residents write (tests/corpus/): ``messages.tsv``, the
corpus the word lists were written against and the model is trained on, and two held-out files never
trained on: ``heldout.tsv``, written after the word lists were frozen, and ``heldout2.tsv``, written (by
another hand) before the retrained model was measured — their figures estimate how the classifier does
on messages nobody tuned it for.  Each row: text, kind
(report/question/chatter), category, urgent (0/1), question (what a question asks), note (the kind of hard
negative a chatter row is: thanks, elsewhere, notice, personal, figure, groupbuy, ad, parcel, lost,
greeting, past, opinion).

Figures, per file:

* report recall — the share of reports classified "report" (≥90%);
* false responses — the share of chatter classified "report" or "question", i.e. answered (≤2%);
* question accuracy — the share of questions classified "question" asking the labelled thing (≥70%);
* cost — mean µs per ``classify`` call over the file, repeated (≤2,000 µs); the baseline is a bare
  ``handlers.tickets.category_of`` on the same texts (the keyword scan the free-text path adds to).

Not floored, in the note: category accuracy on reports and urgent recall/precision.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Row

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
FILES = {"corpus": CORPUS / "messages.tsv", "heldout": CORPUS / "heldout.tsv",
         "heldout2": CORPUS / "heldout2.tsv"}
# recall, false responses, question accuracy: the floors, on both files (the held-out file is
# the one that tells how Linli reads messages nobody tuned it for)
FLOORS = {"corpus": (0.90, 0.02, 0.70), "heldout": (0.90, 0.02, 0.70), "heldout2": (0.90, 0.02, 0.70)}
# what the held-out files give today (measured: heldout 92% / 1.5% / 80%, heldout2 98.2% / 0% / 100%),
# kept by tests/test_intake.py so they cannot get worse unnoticed (false responses: the ≤2% floor)
HELDOUT_NOW = {"heldout": (0.92, 0.02, 0.80), "heldout2": (0.98, 0.02, 1.0)}
MAX_MICROSECONDS = 2000.0


@dataclass(frozen=True)
class Labelled:
    text: str
    kind: str
    category: str
    urgent: bool
    question: str
    note: str


def load(path: Path) -> list[Labelled]:
    """The labelled messages of one corpus file."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Labelled(r["text"], r["kind"], r.get("category") or "", r.get("urgent") == "1",
                         r.get("question") or "", r.get("note") or "") for r in rows]


def figures(rows: list[Labelled]) -> dict:
    """Recall, false responses, question accuracy (and the unfloored ones) with the failures behind them."""
    from bot.intake import classify

    readings = [(row, classify(row.text)) for row in rows]
    reports = [(r, x) for r, x in readings if r.kind == "report"]
    chatter = [(r, x) for r, x in readings if r.kind == "chatter"]
    questions = [(r, x) for r, x in readings if r.kind == "question"]
    missed = [(r, x) for r, x in reports if x.kind != "report"]
    answered = [(r, x) for r, x in chatter if x.kind != "chatter"]
    wrong_q = [(r, x) for r, x in questions if x.kind != "question" or x.question != r.question]
    found = [(r, x) for r, x in reports if x.kind == "report"]
    urgent_true = sum(1 for r, x in reports if r.urgent)
    flagged = [(r, x) for r, x in readings if x.urgent]
    return {
        "messages": len(rows), "reports": len(reports), "chatter": len(chatter), "questions": len(questions),
        "recall": 1 - len(missed) / max(1, len(reports)),
        "false": len(answered) / max(1, len(chatter)),
        "question_accuracy": 1 - len(wrong_q) / max(1, len(questions)),
        "category": sum(1 for r, x in found if x.category == r.category) / max(1, len(found)),
        "urgent_recall": sum(1 for r, x in reports if r.urgent and x.urgent) / max(1, urgent_true),
        "urgent_precision": sum(1 for r, x in flagged if r.urgent) / max(1, len(flagged)),
        "missed": missed, "answered": answered, "wrong_questions": wrong_q,
    }


def cost(rows: list[Labelled], repeats: int) -> tuple[float, float]:
    """(µs per classify call, µs per category_of call) on the same texts."""
    from bot.intake import classify
    from handlers.tickets import category_of

    texts = [row.text for row in rows]
    classify(texts[0])  # the module is imported and its patterns compiled
    timed = []
    for func in (classify, category_of):
        start = time.perf_counter()
        for _ in range(repeats):
            for text in texts:
                func(text)
        timed.append((time.perf_counter() - start) / (repeats * len(texts)) * 1e6)
    return timed[0], timed[1]


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    for name, path in FILES.items():
        if not path.exists():
            rows.append(Row(f"P8 intake {name}", None, "", note=f"not measured: no {path.name}"))
            continue
        labelled = load(path)
        result = figures(labelled)
        recall, false, question = FLOORS[name]
        size = (f"{result['messages']} messages ({result['reports']} reports, {result['questions']} "
                f"questions, {result['chatter']} chatter)")
        rows.append(Row(f"P8 intake {name}: report recall", result["recall"] * 100, "%",
                        floor=f"≥{recall:.0%}", ok=result["recall"] >= recall, note=size))
        rows.append(Row(f"P8 intake {name}: false responses on chatter", result["false"] * 100, "%",
                        floor=f"≤{false:.0%}", ok=result["false"] <= false,
                        note="; ".join(r.text for r, _ in result["answered"])[:200]))
        rows.append(Row(f"P8 intake {name}: question accuracy", result["question_accuracy"] * 100, "%",
                        floor=f"≥{question:.0%}", ok=result["question_accuracy"] >= question,
                        note=f"category {result['category']:.0%} of found reports; urgent recall "
                             f"{result['urgent_recall']:.0%}, precision {result['urgent_precision']:.0%}"))
        per, base = cost(labelled, 3 if quick else 30)
        rows.append(Row(f"P8 intake {name}: cost per message", per, "µs", base, "tickets.category_of",
                        f"≤{MAX_MICROSECONDS:,.0f} µs", per <= MAX_MICROSECONDS))
    return rows


if __name__ == "__main__":  # .venv/bin/python -m bench.p8_intake [--quick] [--failures]
    import sys

    from bench.common import table

    print(table(run("--quick" in sys.argv)))
    if "--failures" in sys.argv:
        for name, path in FILES.items():
            if path.exists():
                result = figures(load(path))
                for label, key in (("missed report", "missed"), ("answered chatter", "answered"),
                                   ("wrong question", "wrong_questions")):
                    for row, reading in result[key]:
                        print(f"{name} {label}: {row.text} → {reading.kind}/{reading.question} "
                              f"{reading.score} {reading.reasons}")
