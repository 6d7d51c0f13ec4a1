"""Retrieval-quality evaluation on a question set (``tests/knowledge_base/eval_questions.yml``).

The file::

    in_domain:
      - q: I forgot my password
        expected: [password-reset, account-locked-out]   # acceptable answers, best first
    out_of_domain:
      - What's the weather tomorrow?

Metrics (per search mode):

* ``recall@1`` / ``recall@3``: share of in-domain questions with an expected article among the
  first 1 / 3 results; ``mrr``: mean of 1 / rank of the first expected article (0 if not in 10);
* ``abstain_precision``: of the questions the index abstained on, the share that were out of
  domain; ``abstain_recall``: of the out-of-domain questions, the share it abstained on;
  ``false_abstain``: share of in-domain questions it abstained on.

German questions (``tests/knowledge_base/eval_questions_de.yml``) are asked with
``language="de"``; a set that names the English articles (the held-out German questions do) is
scored with ``same``, which maps each German article to the English one it translates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from knowledge_base.articles import Article, ArticleLanguage
from knowledge_base.search import HybridIndex, SearchMode

__all__ = [
    "EvalQuestion",
    "EvalRow",
    "EvalSet",
    "ModeReport",
    "ThresholdChoice",
    "evaluate",
    "format_table",
    "load_eval_set",
    "suggest_threshold",
    "translations",
]

RANK_DEPTH = 10


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str = Field(min_length=1)
    expected: list[str] = Field(min_length=1)


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    in_domain: list[EvalQuestion]
    out_of_domain: list[str] = Field(default_factory=list)


def load_eval_set(path: Path | str) -> EvalSet:
    with Path(path).open(encoding="utf-8") as handle:
        return EvalSet.model_validate(yaml.safe_load(handle))


class EvalRow(BaseModel):
    """One question's outcome (for calibration and for reading failures)."""

    model_config = ConfigDict(frozen=True)

    q: str
    in_domain: bool
    expected: list[str]
    ranked: list[str]
    top_score: float
    top_dense: float | None
    top_bm25: float | None
    abstain: bool
    top_language: str | None = None  # the language of the first result
    fallback: bool = False  # the results are in the other language than the one asked for

    @property
    def rank(self) -> int | None:
        """1-based rank of the first expected article, None when not in the results."""
        for position, article_id in enumerate(self.ranked, start=1):
            if article_id in self.expected:
                return position
        return None


class ModeReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: str
    n_in_domain: int
    n_out_of_domain: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    abstain_precision: float
    abstain_recall: float
    false_abstain: float
    rows: list[EvalRow]

    def figures(self) -> dict[str, float]:
        return {
            "recall@1": self.recall_at_1,
            "recall@3": self.recall_at_3,
            "mrr": self.mrr,
            "abstain_precision": self.abstain_precision,
            "abstain_recall": self.abstain_recall,
            "false_abstain": self.false_abstain,
        }


def translations(articles: Sequence[Article]) -> dict[str, str]:
    """Each translated article's id -> the id of the article it translates."""
    return {article.id: article.translation_of for article in articles if article.translation_of}


def _rows(
    index: HybridIndex,
    eval_set: EvalSet,
    mode: SearchMode,
    language: ArticleLanguage | None,
    same: Mapping[str, str],
    fallback: bool,
) -> list[EvalRow]:
    rows: list[EvalRow] = []
    questions = [(item.q, True, item.expected) for item in eval_set.in_domain]
    questions += [(q, False, []) for q in eval_set.out_of_domain]
    for q, in_domain, expected in questions:
        response = index.search(q, k=RANK_DEPTH, mode=mode, language=language, fallback=fallback)
        top = response.results[0] if response.results else None
        rows.append(
            EvalRow(
                q=q,
                in_domain=in_domain,
                expected=expected,
                ranked=[same.get(result.article_id, result.article_id) for result in response.results],
                top_score=top.score if top else 0.0,
                top_dense=top.dense_score if top else None,
                top_bm25=top.bm25_score if top else None,
                abstain=response.abstain,
                top_language=top.language if top else None,
                fallback=response.fallback,
            )
        )
    return rows


def _report(mode: str, rows: Sequence[EvalRow]) -> ModeReport:
    inside = [row for row in rows if row.in_domain]
    outside = [row for row in rows if not row.in_domain]
    ranks = [row.rank for row in inside]
    n = max(len(inside), 1)
    abstained = [row for row in rows if row.abstain]
    return ModeReport(
        mode=mode,
        n_in_domain=len(inside),
        n_out_of_domain=len(outside),
        recall_at_1=sum(1 for r in ranks if r is not None and r <= 1) / n,
        recall_at_3=sum(1 for r in ranks if r is not None and r <= 3) / n,
        mrr=sum(1 / r for r in ranks if r is not None) / n,
        abstain_precision=(sum(1 for row in abstained if not row.in_domain) / len(abstained))
        if abstained
        else 1.0,
        abstain_recall=(sum(1 for row in outside if row.abstain) / len(outside)) if outside else 1.0,
        false_abstain=sum(1 for row in inside if row.abstain) / n,
        rows=list(rows),
    )


def evaluate(
    index: HybridIndex,
    eval_set: EvalSet,
    mode: SearchMode,
    language: ArticleLanguage | None = None,
    same: Mapping[str, str] | None = None,
    fallback: bool = True,
) -> ModeReport:
    """Run every question of ``eval_set`` through ``index.search`` in ``mode`` (and ``language``).

    ``same`` maps an article id to the id it counts as (see ``translations``); without
    ``fallback``, only the articles in ``language`` answer (to calibrate its thresholds).
    """
    return _report(mode, _rows(index, eval_set, mode, language, same or {}, fallback))


def format_table(reports: Sequence[ModeReport]) -> str:
    """A Markdown table of the figures of several modes."""
    header = "| mode | recall@1 | recall@3 | MRR | abstain precision | abstain recall | false abstain |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|"]
    for report in reports:
        lines.append(
            f"| {report.mode} | {report.recall_at_1:.3f} | {report.recall_at_3:.3f} | {report.mrr:.3f} | "
            f"{report.abstain_precision:.3f} | {report.abstain_recall:.3f} | {report.false_abstain:.3f} |"
        )
    return "\n".join(lines)


class ThresholdChoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    threshold: float
    abstain_recall: float  # share of out-of-domain questions abstained on
    false_abstain: float  # share of in-domain questions abstained on


def suggest_threshold(rows: Sequence[EvalRow]) -> ThresholdChoice:
    """The abstention threshold on the top score that maximises Youden's J.

    J = abstain recall on out-of-domain questions - false-abstain rate on in-domain ones (both
    weighted equally). The threshold is put halfway between the two scores it separates.
    """
    scores = sorted({round(row.top_score, 6) for row in rows})
    candidates = [scores[0] - 1e-3] + [(a + b) / 2 for a, b in itertools.pairwise(scores)]
    candidates.append(scores[-1] + 1e-3)
    inside = [row.top_score for row in rows if row.in_domain]
    outside = [row.top_score for row in rows if not row.in_domain]
    best: ThresholdChoice | None = None
    best_j = -2.0
    for threshold in candidates:
        recall = sum(1 for s in outside if s < threshold) / max(len(outside), 1)
        false = sum(1 for s in inside if s < threshold) / max(len(inside), 1)
        if recall - false > best_j + 1e-12:
            best_j = recall - false
            best = ThresholdChoice(threshold=round(threshold, 4), abstain_recall=recall, false_abstain=false)
    assert best is not None
    return best
