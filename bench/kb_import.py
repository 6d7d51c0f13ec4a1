"""Benchmark: the bot's knowledge-base searches while a bulk import is embedded.

Run:  .venv/bin/python bench/kb_import.py [--articles 1000] [--quick] [--out FILE]

The service's own index (handoff_api.kb.index.KnowledgeIndex on a fresh SQLite database, the real
MiniLM model) holds the starter corpus; N generated articles (knowledge_base.synthetic) are then
imported in one transaction and the index picks them up as the service's background loop does,
while a customer-like searcher asks a new question every 50 ms. Two configurations in the same run:

* before: questions embedded on the documents' model and thread, the whole change applied at once;
* after: questions on their own model instance and thread, changes applied 50 articles at a time.

Per configuration: search latency while indexing (p50/p95/max, count), the time until the first
imported article and until all of them are searchable, and the process's peak RSS growth.
Writes bench/results/kb_import.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import default_out, machine_info, now_iso, percentile, quick_mode  # noqa: E402
from handoff_api.core.db import make_engine, make_session_factory, transaction  # noqa: E402
from handoff_api.core.migrate import upgrade  # noqa: E402
from handoff_api.kb import store as kb_store  # noqa: E402
from handoff_api.kb.index import APPLY_BATCH, KnowledgeIndex  # noqa: E402
from knowledge_base.articles import Article  # noqa: E402
from knowledge_base.embeddings import MiniLMEmbedder  # noqa: E402
from knowledge_base.synthetic import near_miss_articles  # noqa: E402

QUESTIONS = [
    "I forgot my password",
    "how do I connect to the vpn from home",
    "guest wifi for a visitor",
    "outlook keeps asking for my password",
    "printer says offline",
    "set up the authenticator app on my new phone",
    "teams has no sound",
    "my laptop disk is full",
]


SITES = ["Berlin", "Lisbon", "Austin", "Toronto", "Singapore", "Nairobi", "Warsaw", "Osaka", "Dublin"]


def _generated(count: int) -> list[Article]:
    """`count` new articles: the near misses, then variants of them for one site each (new text)."""
    pool = near_miss_articles(min(count, 600), seed=20261208)
    articles = list(pool)
    for i in range(len(pool), count):
        base, site = pool[i % len(pool)], SITES[i % len(SITES)]
        note = f"At the {site} office ask the local IT desk on the second floor if this does not work."
        articles.append(
            base.model_copy(
                update={
                    "id": f"{base.id}-{site.lower()}-{i}",
                    "title": f"{base.title} ({site})",
                    "body": f"{base.body}\n\n{note}",
                }
            )
        )
    return articles


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(config: str, articles: int, embedder: MiniLMEmbedder) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"kb-import-{config}-"))
    url = f"sqlite:///{folder / 'helpdesk.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    after = config == "after"
    knowledge = KnowledgeIndex(
        factory, factory, embedder, query_model=after, apply_batch=APPLY_BATCH if after else 10**9
    )
    knowledge.seed_if_empty()
    knowledge.refresh()
    starter = len(knowledge.index)
    rss_before = _rss_mb()
    generated = _generated(articles)
    with transaction(factory) as session:
        kb_store.import_articles(session, generated, "bench")

    latencies: list[float] = []
    first_searchable: list[float] = []
    done = threading.Event()
    started = time.perf_counter()

    def follow() -> None:
        knowledge.refresh()
        done.set()

    threading.Thread(target=follow, daemon=True).start()
    n = 0
    while not done.is_set():
        question = f"{QUESTIONS[n % len(QUESTIONS)]} ({n})"
        asked = time.perf_counter()
        knowledge.search(question, 5)
        latencies.append((time.perf_counter() - asked) * 1000)
        if not first_searchable and len(knowledge.index) > starter:
            first_searchable.append(time.perf_counter() - started)
        n += 1
        time.sleep(0.05)
    all_searchable = time.perf_counter() - started
    assert len(knowledge.index) == starter + articles, (len(knowledge.index), starter, articles)
    engine.dispose()
    return {
        "config": config,
        "articles": articles,
        "searches_while_indexing": len(latencies),
        "search_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(sorted(latencies), 0.95), 1),
            "max": round(max(latencies), 1),
        },
        "first_searchable_s": round(first_searchable[0] if first_searchable else all_searchable, 1),
        "all_searchable_s": round(all_searchable, 1),
        "rss_growth_mb": round(_rss_mb() - rss_before, 1),
        "rss_after_mb": round(_rss_mb(), 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quick = args.quick or quick_mode()
    articles = 100 if quick else args.articles
    out = args.out or default_out("kb_import.json", quick)
    embedder = MiniLMEmbedder()
    embedder.load()
    # "after" second: its extra model instance would otherwise count in "before"'s memory.
    rows = [run("before", articles, embedder), run("after", articles, embedder)]
    result = {"date": now_iso(), "machine": machine_info(), "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    columns = ["config", "articles", "searches", "p50 ms", "p95 ms", "max ms", "first searchable s"]
    columns += ["all searchable s", "RSS after MB", "peak RSS MB"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        ms = row["search_ms"]
        cells = [row["config"], row["articles"], row["searches_while_indexing"], ms["p50"], ms["p95"]]
        cells += [
            ms["max"],
            row["first_searchable_s"],
            row["all_searchable_s"],
            row["rss_after_mb"],
            row["peak_rss_mb"],
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
