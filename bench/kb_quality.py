"""Knowledge-base ranking quality: recall@1, recall@3 and MRR per search mode, before and after.

Run:  .venv/bin/python bench/kb_quality.py [--configs baseline,current | all] [--extra 500]
                                            [--no-heldout] [--store FILE.npz] [--out FILE]
      .venv/bin/python bench/kb_quality.py --german [--store FILE.npz] [--out FILE]

For each configuration (``baseline``: the scoring before field weights, spellings and synonyms,
``knowledge_base.search.BASELINE_RANKING``; ``current``: ``DEFAULT_RANKING``; ``all`` adds the
levers one at a time), each corpus (the 55 articles of knowledge_base/articles, then the same
with ``--extra`` generated near-miss articles from ``knowledge_base.synthetic``) and each mode
(bm25, dense, hybrid), it measures:

* on the tuning set, tests/knowledge_base/eval_questions.yml (240 in-domain questions, 70 out
  of domain): recall@1, recall@3, MRR, and how often it abstains on out-of-domain questions
  (abstain recall) and on in-domain ones (false abstain);
* on the held-out set, heldout/kb_questions_en.yml (questions with the articles that answer
  them, and unanswerable ones): the same figures, the unanswerable questions standing for the
  out-of-domain ones.  Nothing here tunes on it: it is read to report, and ``--no-heldout``
  leaves it out.  Some of its questions are answered only by draft articles, which are never
  indexed: ``heldout-published`` gives the figures without them;
* search latency (k=5) per mode on questions never seen before: every hybrid or dense search
  runs the model once (the query-vector and result caches are emptied first).

Targets (held-out, hybrid, current configuration, both corpora): recall@1 >= 0.85, recall@3 >=
0.95, and hybrid above bm25 and dense in recall@1 and MRR.

Writes bench/results/kb_quality.json (`date`, `machine`, `settings`, `configs`, `results[]`
with one record per configuration, corpus, question set and mode, `latency[]`, `targets`)
and prints Markdown tables.

``--german`` measures German questions instead, side by side (bench/results/kb_quality_de.json):

* ``baseline``: as before languages were told apart: no language, every article ranked with the
  English words;
* ``+language``: language="de" (German articles only, the English ones when nothing German
  answers), still the English words, the English thresholds;
* ``current``: language="de" with the German words (``knowledge_base.german``) and
  ``DEFAULT_GERMAN_THRESHOLDS``;

on the German tuning set (tests/knowledge_base/eval_questions_de.yml) and the German held-out
set (heldout/kb_questions_de.yml, read to report, never tuned on).  An answer counts when it is
the expected article or its translation (the held-out set names the English articles); ``in
German`` is the share of answerable questions whose first result is right and in German, and
``fallback`` the share answered from the other language.  It also checks that English stays
as it was: the English sets without a language (the same ranking as ``baseline``) and with
language="en".  Target (held-out, hybrid, current): recall@1 >= 0.80.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from bench.common import default_out, load_average, machine_info, now_iso, quick_mode, write_json  # noqa: E402
from knowledge_base.articles import Article, ArticleLanguage, load_articles  # noqa: E402
from knowledge_base.embeddings import InMemoryEmbeddingStore, MiniLMEmbedder  # noqa: E402
from knowledge_base.evaluation import (  # noqa: E402
    EvalQuestion,
    EvalSet,
    ModeReport,
    evaluate,
    load_eval_set,
    translations,
)
from knowledge_base.search import (  # noqa: E402
    BASELINE_RANKING,
    BASELINE_THRESHOLDS,
    DEFAULT_GERMAN_THRESHOLDS,
    DEFAULT_RANKING,
    DEFAULT_THRESHOLDS,
    SEARCH_MODES,
    FusionMethod,
    HybridIndex,
    Ranking,
    Thresholds,
)
from knowledge_base.synthetic import DEFAULT_SEED, near_miss_articles  # noqa: E402

ARTICLES_DIR = REPO / "knowledge_base" / "articles"
DEV_FILE = REPO / "tests" / "knowledge_base" / "eval_questions.yml"
HELDOUT_FILE = REPO / "heldout" / "kb_questions_en.yml"
DEV_FILE_DE = REPO / "tests" / "knowledge_base" / "eval_questions_de.yml"
HELDOUT_FILE_DE = REPO / "heldout" / "kb_questions_de.yml"
GERMAN_TARGET = {"recall@1": 0.80}
MODES = ("bm25", "dense", "hybrid")
TARGETS = {"recall@1": 0.85, "recall@3": 0.95}
QUICK_EXTRA = 100


@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    ranking: Ranking
    thresholds: Thresholds
    fusion: FusionMethod = "blend"
    note: str = ""


def load_embeddings(path: Path | None) -> tuple[MiniLMEmbedder, InMemoryEmbeddingStore]:
    """The sentence model, and the embeddings a previous run stored at `path` (so they are not recomputed)."""
    embedder = MiniLMEmbedder()
    embedder.load()
    store = InMemoryEmbeddingStore()
    if path is not None and path.exists():
        with np.load(path) as data:
            store.put_many({key: data[key] for key in data.files})
    return embedder, store


def configs() -> dict[str, Config]:
    """The baseline, each lever added in turn, the current defaults, and rank fusion."""
    base = BASELINE_RANKING
    spelled = dataclasses.replace(base, spelling=True)
    synonyms = dataclasses.replace(
        spelled, synonym_weight=DEFAULT_RANKING.synonym_weight, expand_dense_query=True
    )
    return {
        config.name: config
        for config in (
            Config("baseline", base, BASELINE_THRESHOLDS, note="best section only, blend 0.5"),
            Config("+spelling", spelled, BASELINE_THRESHOLDS, note="one spelling (wi-fi = wifi...)"),
            Config("+synonyms", synonyms, BASELINE_THRESHOLDS, note="customer words -> article words"),
            Config(
                "+fields",
                DEFAULT_RANKING,
                BASELINE_THRESHOLDS,
                note="title vector, lead section, title-and-tags BM25",
            ),
            Config(
                "current", DEFAULT_RANKING, DEFAULT_THRESHOLDS, note="blend 0.45, thresholds recalibrated"
            ),
            Config("current-rrf", DEFAULT_RANKING, DEFAULT_THRESHOLDS, "rrf", note="rank fusion instead"),
        )
    }


def load_heldout(path: Path) -> EvalSet:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return EvalSet(
        in_domain=[EvalQuestion(q=item["q"], expected=item["expected"]) for item in data["questions"]],
        out_of_domain=[item["q"] for item in data.get("unanswerable", [])],
    )


def time_searches(
    index: HybridIndex, embedder: MiniLMEmbedder, questions: list[str], mode: str
) -> list[float]:
    """Seconds per search of questions the index and the model have not seen (k=5)."""
    embedder.clear_query_cache()
    samples: list[float] = []
    for question in questions:
        started = time.perf_counter()
        index.search(question, k=5, mode=mode)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
    return samples


def percentiles(seconds: list[float]) -> dict[str, float]:
    array = np.array(seconds) * 1000
    return {
        "n": len(seconds),
        "p50_ms": round(float(np.percentile(array, 50)), 2),
        "p95_ms": round(float(np.percentile(array, 95)), 2),
        "max_ms": round(float(array.max()), 2),
    }


def table(results: list[dict[str, Any]], question_set: str, with_abstention: bool = True) -> str:
    rows = [r for r in results if r["set"] == question_set]
    header = "| config | corpus | mode | recall@1 | recall@3 | MRR |"
    rule = "|---|---|---|---:|---:|---:|"
    if with_abstention:
        header += " abstain recall | false abstain |"
        rule += "---:|---:|"
    lines = [header, rule]
    for r in rows:
        line = (
            f"| {r['config']} | {r['corpus']} | {r['mode']} | {r['recall@1']:.3f} | "
            f"{r['recall@3']:.3f} | {r['mrr']:.3f} |"
        )
        if with_abstention:
            line += f" {r['abstain_recall']:.3f} | {r['false_abstain']:.3f} |"
        lines.append(line)
    return "\n".join(lines)


def check_targets(results: list[dict[str, Any]], config: str) -> dict[str, Any]:
    out: dict[str, Any] = {"config": config, "set": "heldout", **TARGETS, "met": {}}
    for corpus in sorted({r["corpus"] for r in results}):
        by_mode = {
            r["mode"]: r
            for r in results
            if r["config"] == config and r["corpus"] == corpus and r["set"] == "heldout"
        }
        if "hybrid" not in by_mode:
            continue
        hybrid = by_mode["hybrid"]
        checks = {name: hybrid[name] >= floor for name, floor in TARGETS.items()}
        for other in ("bm25", "dense"):
            if other in by_mode:
                checks[f"above {other}"] = (
                    hybrid["recall@1"] > by_mode[other]["recall@1"] and hybrid["mrr"] > by_mode[other]["mrr"]
                )
        out["met"][corpus] = checks
    out["all_met"] = bool(out["met"]) and all(all(c.values()) for c in out["met"].values())
    return out


@dataclasses.dataclass(frozen=True)
class GermanConfig:
    name: str
    ranking: Ranking
    german_thresholds: Thresholds
    language: ArticleLanguage | None
    note: str


def german_configs() -> list[GermanConfig]:
    english_words = dataclasses.replace(DEFAULT_RANKING, german_lexicon=False)
    return [
        GermanConfig("baseline", DEFAULT_RANKING, DEFAULT_THRESHOLDS, None, "no language, English words"),
        GermanConfig(
            "+language", english_words, DEFAULT_THRESHOLDS, "de", "German articles first, English words"
        ),
        GermanConfig(
            "current", DEFAULT_RANKING, DEFAULT_GERMAN_THRESHOLDS, "de", "German words, German thresholds"
        ),
    ]


def _german_figures(report: ModeReport) -> dict[str, float]:
    inside = [row for row in report.rows if row.in_domain]
    n = max(len(inside), 1)
    figures = {key: round(value, 4) for key, value in report.figures().items()}
    figures["in_german"] = round(sum(1 for r in inside if r.rank == 1 and r.top_language == "de") / n, 4)
    figures["fallback"] = round(sum(1 for r in inside if r.fallback) / n, 4)
    return figures


def german_table(results: list[dict[str, Any]], question_set: str) -> str:
    lines = [
        "| config | mode | recall@1 | recall@3 | MRR | in German | fallback | abstain recall "
        "| false abstain |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r["set"] != question_set:
            continue
        lines.append(
            f"| {r['config']} | {r['mode']} | {r['recall@1']:.3f} | {r['recall@3']:.3f} | {r['mrr']:.3f} | "
            f"{r['in_german']:.3f} | {r['fallback']:.3f} | {r['abstain_recall']:.3f} | "
            f"{r['false_abstain']:.3f} |"
        )
    return "\n".join(lines)


def german_main(args: argparse.Namespace) -> None:
    """The --german run: baseline, +language and current on the German sets, and the English check."""
    out_path = args.out or default_out("kb_quality_de.json", quick_mode(args.quick))
    load_at_start = load_average()
    articles = load_articles(ARTICLES_DIR).articles
    same = translations(articles)
    published = {a.id for a in articles if a.published}
    tuning = load_eval_set(DEV_FILE_DE)
    # the tuning set names German articles: score it by topic like the held-out set
    sets = {
        "dev": EvalSet(
            in_domain=[
                EvalQuestion(q=item.q, expected=[same.get(e, e) for e in item.expected])
                for item in tuning.in_domain
            ],
            out_of_domain=tuning.out_of_domain,
        ),
        "heldout": load_heldout(HELDOUT_FILE_DE),
    }
    heldout = sets["heldout"]
    answerable = [q for q in heldout.in_domain if set(q.expected) & (published | set(same.values()))]
    unpublished = sorted({e for q in heldout.in_domain for e in q.expected} - published)
    if unpublished:
        print(
            f"note: held-out questions name articles that are not published ({', '.join(unpublished)}): "
            "they count as misses",
            flush=True,
        )

    embedder, store = load_embeddings(args.store)
    results: list[dict[str, Any]] = []
    english: list[dict[str, Any]] = []
    for config in german_configs():
        index = HybridIndex(
            embedder,
            store,
            ranking=config.ranking,
            german_thresholds=config.german_thresholds,
            result_cache_size=0,
        )
        index.replace_all(articles)
        for set_name, eval_set in sets.items():
            for mode in MODES:
                report = evaluate(index, eval_set, mode, language=config.language, same=same)
                results.append(
                    {
                        "config": config.name,
                        "set": set_name,
                        "mode": mode,
                        "language": config.language,
                        "n_in_domain": report.n_in_domain,
                        "n_out_of_domain": report.n_out_of_domain,
                        **_german_figures(report),
                    }
                )
        if config.name == "current":
            english_sets = {"dev": load_eval_set(DEV_FILE), "heldout": load_heldout(HELDOUT_FILE)}
            for set_name, eval_set in english_sets.items():
                for language in (None, "en"):
                    report = evaluate(index, eval_set, "hybrid", language=language)
                    english.append(
                        {
                            "set": set_name,
                            "mode": "hybrid",
                            "language": language,
                            **{key: round(value, 4) for key, value in report.figures().items()},
                            "ranked": [row.ranked for row in report.rows],
                        }
                    )
        print(f"[{config.name}] done", flush=True)
    if args.store is not None:
        np.savez(args.store, allow_pickle=False, **dict(store.items()))

    # English without a language ranks exactly as the baseline configuration does (same code path)
    current_en = {(row["set"], row["language"]): row for row in english}
    for row in english:
        row.pop("ranked")
    for set_name in ("dev", "heldout"):
        without = current_en[(set_name, None)]
        with_en = current_en[(set_name, "en")]
        without["recall@1_with_en_minus_without"] = round(with_en["recall@1"] - without["recall@1"], 4)

    current_heldout = next(
        r for r in results if r["config"] == "current" and r["set"] == "heldout" and r["mode"] == "hybrid"
    )
    payload: dict[str, Any] = {
        "date": now_iso(),
        "machine": machine_info(load_at_start),
        "settings": {
            "dev_file": str(DEV_FILE_DE.relative_to(REPO)),
            "heldout_file": str(HELDOUT_FILE_DE.relative_to(REPO)),
            "published_articles": len(published),
            "german_articles": sum(1 for a in articles if a.published and a.language == "de"),
            "heldout_answerable": len(answerable),
            "scoring": "an article or its translation counts as the expected article",
            "rank_depth": 10,
        },
        "configs": {
            c.name: {
                "language": c.language,
                "ranking": dataclasses.asdict(c.ranking),
                "german_thresholds": dataclasses.asdict(c.german_thresholds),
                "note": c.note,
            }
            for c in german_configs()
        },
        "results": results,
        "english": english,
        "targets": {
            "set": "heldout",
            "config": "current",
            "mode": "hybrid",
            **GERMAN_TARGET,
            "met": all(current_heldout[key] >= floor for key, floor in GERMAN_TARGET.items()),
        },
    }
    print("\n## German tuning set (tests/knowledge_base/eval_questions_de.yml)\n")
    print(german_table(results, "dev"))
    print("\n## German held-out set (heldout/kb_questions_de.yml)\n")
    print(german_table(results, "heldout"))
    print("\n## English, current code: no language vs language=en (hybrid)\n")
    print("| set | language | recall@1 | recall@3 | MRR | abstain recall | false abstain |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in english:
        print(
            f"| {row['set']} | {row['language']} | {row['recall@1']:.3f} | {row['recall@3']:.3f} | "
            f"{row['mrr']:.3f} | {row['abstain_recall']:.3f} | {row['false_abstain']:.3f} |"
        )
    print(f"\ntarget (German held-out, current, hybrid): {payload['targets']}")
    write_json(out_path, payload)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs",
        default="baseline,current",
        help=f"comma-separated names or 'all' ({', '.join(configs())})",
    )
    parser.add_argument("--extra", type=int, default=None, help="generated articles added (default 500)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated articles")
    parser.add_argument("--no-heldout", action="store_true", help="the tuning set only")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EXTRA} generated articles")
    parser.add_argument(
        "--store", type=Path, default=None, help="an .npz of embeddings to start from and save to"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--german", action="store_true", help="German questions: baseline vs language filter vs German words"
    )
    args = parser.parse_args()
    if args.german:
        german_main(args)
        return
    quick = quick_mode(args.quick)
    extra = args.extra if args.extra is not None else (QUICK_EXTRA if quick else 500)
    available = configs()
    names = list(available) if args.configs == "all" else [n.strip() for n in args.configs.split(",")]
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown configurations {unknown}; known: {list(available)}")
    out_path = args.out or default_out("kb_quality.json", quick)
    load_at_start = load_average()

    loaded = load_articles(ARTICLES_DIR)
    real: list[Article] = loaded.articles
    generated = near_miss_articles(extra, seed=args.seed) if extra else []
    clash = {a.id for a in real} & {a.id for a in generated}
    if clash:
        raise SystemExit(f"generated ids clash with real articles: {sorted(clash)}")
    corpora = {"kb": real}
    if extra:
        corpora[f"kb+{extra}"] = real + generated
    sets = {"dev": load_eval_set(DEV_FILE)}
    if not args.no_heldout:
        sets["heldout"] = load_heldout(HELDOUT_FILE)
    published = {a.id for a in real if a.published}
    for name, eval_set in list(sets.items()):
        not_published = sorted({e for q in eval_set.in_domain for e in q.expected} - published)
        if not_published and name == "heldout":
            answerable = [q for q in eval_set.in_domain if set(q.expected) & published]
            print(
                f"note: {len(eval_set.in_domain) - len(answerable)} held-out questions are answered only by "
                f"articles that are not published ({', '.join(not_published)}): they count as misses in "
                "'heldout' and are left out of 'heldout-published'",
                flush=True,
            )
            sets["heldout-published"] = EvalSet(in_domain=answerable, out_of_domain=eval_set.out_of_domain)

    embedder, store = load_embeddings(args.store)
    if args.store is not None and args.store.exists():
        print(f"{len(store)} stored embeddings read from {args.store}", flush=True)

    latency_questions = [q.q for q in sets["dev"].in_domain] + list(sets["dev"].out_of_domain)
    results: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    for name in names:
        config = available[name]
        for corpus, articles in corpora.items():
            started = time.perf_counter()
            index = HybridIndex(
                embedder,
                store,
                thresholds=config.thresholds,
                fusion=config.fusion,
                ranking=config.ranking,
                result_cache_size=0,
            )
            stats = index.replace_all(articles)
            print(
                f"[{name} / {corpus}] {len(index)} articles, {index.section_count} sections, "
                f"embedded {stats.embedded} in {time.perf_counter() - started:.1f}s",
                flush=True,
            )
            for set_name, eval_set in sets.items():
                for mode in MODES:
                    report = evaluate(index, eval_set, mode)
                    figures = report.figures()
                    results.append(
                        {
                            "config": name,
                            "corpus": corpus,
                            "articles": len(index),
                            "set": set_name,
                            "mode": mode,
                            "n_in_domain": report.n_in_domain,
                            "n_out_of_domain": report.n_out_of_domain,
                            **{key: round(value, 4) for key, value in figures.items()},
                        }
                    )
            for mode in SEARCH_MODES:
                samples = time_searches(index, embedder, latency_questions, mode)
                latency.append({"config": name, "corpus": corpus, "mode": mode, **percentiles(samples)})

    if args.store is not None:
        np.savez(args.store, allow_pickle=False, **dict(store.items()))

    payload: dict[str, Any] = {
        "date": now_iso(),
        "machine": machine_info(load_at_start),
        "quick": quick,
        "settings": {
            "extra_articles": extra,
            "seed": args.seed,
            "published_articles": len(published),
            "dev_file": str(DEV_FILE.relative_to(REPO)),
            "heldout_file": None if args.no_heldout else str(HELDOUT_FILE.relative_to(REPO)),
            "rank_depth": 10,
            "latency_questions": len(latency_questions),
        },
        "configs": {
            name: {
                "ranking": dataclasses.asdict(available[name].ranking),
                "thresholds": dataclasses.asdict(available[name].thresholds),
                "fusion": available[name].fusion,
                "note": available[name].note,
            }
            for name in names
        },
        "results": results,
        "latency": latency,
    }
    if not args.no_heldout and "current" in names:
        payload["targets"] = check_targets(results, "current")

    print()
    print("## Tuning set (tests/knowledge_base/eval_questions.yml)\n")
    print(table(results, "dev"))
    if not args.no_heldout:
        print("\n## Held-out set (heldout/kb_questions_en.yml; abstain recall on the unanswerable ones)\n")
        print(table(results, "heldout"))
        if "heldout-published" in sets:
            print("\n## Held-out questions that a published article answers\n")
            print(table(results, "heldout-published", with_abstention=False))
    print("\n## Search latency, questions never seen (ms)\n")
    print("| config | corpus | mode | p50 | p95 | max |")
    print("|---|---|---|---:|---:|---:|")
    for row in latency:
        print(
            f"| {row['config']} | {row['corpus']} | {row['mode']} | {row['p50_ms']:.1f} | "
            f"{row['p95_ms']:.1f} | {row['max_ms']:.1f} |"
        )
    if "targets" in payload:
        print(f"\ntargets (held-out, current, hybrid): {payload['targets']}")
    write_json(out_path, payload)


if __name__ == "__main__":
    main()
