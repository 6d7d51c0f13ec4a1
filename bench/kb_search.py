"""Benchmark of the knowledge-base search: build time, latency and memory at growing sizes.

Run:  .venv/bin/python bench/kb_search.py [--sizes 100,1000,10000s] [--queries 300] [--quick]

Corpora are generated from the real articles in knowledge_base/articles: article i is a
variation of real article i mod R (a qualifier in the title and summary, a site-specific note
in every section, sentences of a section reordered), so every section text is new and is
really embedded.  A size ``N`` is N articles; ``Ns`` is N sections (as many generated
articles as it takes), used where embedding N articles would take too long on 2 cores.

Corpora are built in increasing size with one embedding store, so each size embeds only its
new sections (the "embed" columns); "build" is the index build from stored vectors (what a
restart with the service's database store costs: BM25 + vector matrix); "upsert" changes one
section of one article in the full index (one embedding + rebuild + swap).

Latency per question, for each mode:
* cold: unique questions never seen (hybrid and dense embed each one);
* vector-cached: questions seen before, after an index change (query vector cached, results not);
* repeated: the same questions again (result cache).

Quick mode (--quick or BENCH_QUICK=1): sizes 100s,300s,1000s and 40 questions, written under
$HELPDESK_DATA_DIR/bench/results-quick/ unless --out says otherwise.

Writes bench/results/kb_search.json (`date`, `machine`, and per corpus size the three modes'
latencies: `corpora[].latency.{hybrid,bm25,dense}`) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import default_out, load_average, machine_info, now_iso, quick_mode  # noqa: E402
from knowledge_base.articles import Article, load_articles  # noqa: E402
from knowledge_base.embeddings import InMemoryEmbeddingStore, MiniLMEmbedder  # noqa: E402
from knowledge_base.search import SEARCH_MODES, HybridIndex  # noqa: E402
from knowledge_base.sections import split_sections  # noqa: E402

QUICK_SIZES = "100s,300s,1000s"
QUICK_QUERIES = 40

SITES = [
    "Berlin", "Lisbon", "Austin", "Toronto", "Singapore", "Nairobi", "Warsaw", "Osaka", "Dublin",
    "Madrid", "Chicago", "Sydney", "Zurich", "Mumbai", "Oslo", "Lyon", "Denver", "Seoul",
]  # fmt: skip
GROUPS = [
    "contractors", "the finance team", "field engineers", "new starters", "executives",
    "the support centre", "shared laptops", "kiosk devices", "the design studio", "interns",
    "the warehouse", "remote staff", "the legal team", "lab machines", "sales",
]  # fmt: skip
NOTES = [
    "Local IT can help in person on weekdays.",
    "The rollout finished last quarter; older devices may still show the previous screens.",
    "Your manager approves any exception.",
    "Ask the floor champion if a screen looks different.",
    "Devices older than four years may need an upgrade first.",
    "The same steps work on a loan device.",
    "Allow up to an hour for changes to reach every system.",
    "Keep the ticket number from the confirmation email.",
    "A short video guide is on the intranet page of your site.",
    "Some menus are translated into the local language.",
]
SPLIT_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vary_markdown(body: str, rng: random.Random, note: str) -> str:
    out: list[str] = []
    for block in re.split(r"(?m)^(?=## )", body):
        lines = block.splitlines()
        if not lines:
            continue
        head, rest = (lines[0], lines[1:]) if lines[0].startswith("## ") else ("", lines)
        paragraphs = "\n".join(rest).split("\n\n")
        varied = []
        for paragraph in paragraphs:
            sentences = SPLIT_SENTENCES.split(paragraph.strip())
            if len(sentences) > 2 and not paragraph.lstrip().startswith(("-", "1.", "|", "```")):
                middle = sentences[1:]
                rng.shuffle(middle)
                sentences = sentences[:1] + middle
            varied.append(" ".join(sentences) if len(sentences) > 1 else paragraph.strip())
        text = "\n\n".join(p for p in varied if p)
        text = f"{text}\n\n{note}" if head else text
        out.append(f"{head}\n\n{text}".strip())
    return "\n\n".join(out)


def generate(real: list[Article], count: int, seed: int = 7) -> list[Article]:
    """``count`` article variations, the first R of them the real articles themselves."""
    rng = random.Random(seed)
    articles: list[Article] = []
    for i in range(count):
        base = real[i % len(real)]
        variant = i // len(real)
        if variant == 0:
            articles.append(base)
            continue
        site = SITES[variant % len(SITES)]
        group = GROUPS[(variant // len(SITES)) % len(GROUPS)]
        tag = f"{site} ({group}, edition {variant})"
        note = f"Note for {site}, {group}, edition {variant}: {rng.choice(NOTES)}"
        articles.append(
            base.model_copy(
                update={
                    "id": f"{base.id}-{variant:05d}",
                    "title": f"{base.title} - {tag}",
                    "summary": f"{base.summary or ''} This applies to {group} in {site}.".strip(),
                    "body": vary_markdown(base.body, rng, note),
                }
            )
        )
    return articles


def articles_for_sections(pool: list[Article], target: int, model_name: str) -> list[Article]:
    total = 0
    chosen: list[Article] = []
    for article in pool:
        n = len(split_sections(article, model_name))
        if total + n > target:
            break
        chosen.append(article)
        total += n
    return chosen


def make_queries(real: list[Article], count: int, seed: int = 11) -> list[str]:
    """Unique, realistic-looking questions built from titles, headings and templates."""
    rng = random.Random(seed)
    topics = [a.title.lower() for a in real] + [t for a in real for t in a.tags]
    templates = [
        "how do I {t}", "{t} not working", "help with {t} please", "{t} on my {d}",
        "I can't {t} since this morning", "where do I find {t}", "{t} error on {d} after update",
        "what should I do about {t}", "{t} question from {s}", "{t} step by step for {d}",
    ]  # fmt: skip
    devices = ["laptop", "iphone", "android phone", "mac", "windows pc", "tablet", "linux desktop"]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        q = rng.choice(templates).format(t=rng.choice(topics), d=rng.choice(devices), s=rng.choice(SITES))
        if rng.random() < 0.5:
            q += f" {rng.randint(2, 999)}"  # keep them unique without changing meaning
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    array = np.asarray(samples_ms)
    return {
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p95_ms": round(float(np.percentile(array, 95)), 3),
        "mean_ms": round(float(array.mean()), 3),
        "n": int(array.size),
    }


def time_queries(index: HybridIndex, queries: list[str], mode: str) -> dict[str, dict[str, float]]:
    """Wall-clock and CPU (this thread) milliseconds per question.

    Wall time is what a caller waits, and includes waiting for a core when other processes
    are busy; CPU time is the work itself and does not depend on the machine's load.
    """
    wall: list[float] = []
    cpu: list[float] = []
    for q in queries:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        index.search(q, k=5, mode=mode)  # type: ignore[arg-type]
        cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - started) / 1e6)
    return {"wall": percentiles(wall), "cpu": percentiles(cpu)}


def bench_size(
    label: str,
    articles: list[Article],
    embedder: MiniLMEmbedder,
    store: InMemoryEmbeddingStore,
    queries: list[str],
) -> dict[str, Any]:
    print(f"[{label}] {len(articles)} articles ...", flush=True)
    # 1. embed what is new (cold part), through a throw-away index sharing the store
    started = time.perf_counter()
    embed_stats = HybridIndex(embedder, store).replace_all(articles)
    embed_seconds = time.perf_counter() - started
    # 2. build from stored vectors, as a restart would
    index = HybridIndex(embedder, store)
    started = time.perf_counter()
    build = index.replace_all(articles)
    build_seconds = time.perf_counter() - started
    assert build.embedded == 0
    sections = index.section_count
    print(
        f"[{label}] {sections} sections; embedded {embed_stats.embedded} in {embed_seconds:.1f}s; "
        f"build {build_seconds:.2f}s",
        flush=True,
    )

    # 3. one edited section -> upsert latency on the full index
    victim = articles[len(articles) // 2]
    edited = victim.model_copy(update={"summary": (victim.summary or "") + " (edited)"})
    upsert = index.upsert(edited)

    # 4. latency
    n_repeat = min(50, len(queries))
    latency: dict[str, Any] = {}
    for mode in SEARCH_MODES:
        embedder.clear_query_cache()
        cold = time_queries(index, queries, mode)
        # a real change makes a new snapshot: result cache empty, query vectors still cached
        swapped = index.version
        index.upsert(victim.model_copy(update={"summary": f"{victim.summary or ''} ({mode} edit)"}))
        assert index.version == swapped + 1
        vector_cached = time_queries(index, queries, mode)
        repeated = time_queries(index, queries[:n_repeat] * 4, mode)
        latency[mode] = {"cold": cold, "vector_cached": vector_cached, "repeated": repeated}
        print(
            f"[{label}] {mode:6} cold p50/p95 wall "
            f"{cold['wall']['p50_ms']:.2f}/{cold['wall']['p95_ms']:.2f} ms "
            f"cpu {cold['cpu']['p50_ms']:.2f}/{cold['cpu']['p95_ms']:.2f} ms; vector-cached p95 wall "
            f"{vector_cached['wall']['p95_ms']:.2f} cpu {vector_cached['cpu']['p95_ms']:.2f} ms; "
            f"repeated p95 {repeated['wall']['p95_ms']:.3f} ms; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return {
        "label": label,
        "articles": len(articles),
        "sections": sections,
        "new_sections_embedded": embed_stats.embedded,
        "embed_seconds": round(embed_seconds, 2),
        "embed_ms_per_section": round(1000 * embed_seconds / embed_stats.embedded, 2)
        if embed_stats.embedded
        else None,
        "build_from_store_seconds": round(build_seconds, 3),
        "upsert_one_section_seconds": round(upsert.seconds, 3),
        "upsert_embedded": upsert.embedded,
        "latency": latency,
        "rss_mib": round(rss_mib(), 1),
        "store_vectors": len(store),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| corpus | articles | sections | new sections embedded | embed (s) | ms/section "
        "| build from store (s) | upsert 1 section (s) | RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["corpora"]:
        lines.append(
            f"| {row['label']} | {row['articles']} | {row['sections']} | {row['new_sections_embedded']} "
            f"| {row['embed_seconds']:.1f} | {row['embed_ms_per_section'] or 0:.1f} "
            f"| {row['build_from_store_seconds']:.2f} | {row['upsert_one_section_seconds']:.2f} "
            f"| {row['rss_mib']:.0f} |"
        )
    lines += [
        "",
        "| corpus | mode | cold wall p50 / p95 | cold CPU p50 / p95 | vector-cached wall / CPU p95 "
        "| repeated wall p95 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in results["corpora"]:
        for mode, lat in row["latency"].items():
            cold, cached, repeated = lat["cold"], lat["vector_cached"], lat["repeated"]
            lines.append(
                f"| {row['label']} | {mode} "
                f"| {cold['wall']['p50_ms']:.2f} / {cold['wall']['p95_ms']:.2f} "
                f"| {cold['cpu']['p50_ms']:.2f} / {cold['cpu']['p95_ms']:.2f} "
                f"| {cached['wall']['p95_ms']:.2f} / {cached['cpu']['p95_ms']:.2f} "
                f"| {repeated['wall']['p95_ms']:.3f} |"
            )
    lines.append("")
    lines.append("All times in ms unless marked (s). Latencies for k=5.")
    return "\n".join(lines)


def load_store(path: Path | None) -> InMemoryEmbeddingStore:
    store = InMemoryEmbeddingStore()
    if path is not None and path.exists():
        with np.load(path) as data:
            store.put_many({key: data[key] for key in data.files})
        print(f"{len(store)} stored embeddings read from {path}", flush=True)
    return store


def save_store(store: InMemoryEmbeddingStore, path: Path | None) -> None:
    if path is not None:
        arrays: dict[str, Any] = dict(store.items())
        np.savez(path, allow_pickle=False, **arrays)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"sizes {QUICK_SIZES}, {QUICK_QUERIES} questions"
    )
    parser.add_argument(
        "--sizes", default=None, help="N articles, or Ns for N sections (default 100,1000,10000s)"
    )
    parser.add_argument("--queries", type=int, default=None, help="unique questions per mode (default 300)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="an .npz of section embeddings to start from and save to (the embed columns then count "
        "only what it lacked); default: embed everything",
    )
    args = parser.parse_args()
    args.quick = quick_mode(args.quick)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else "100,1000,10000s")
    args.queries = args.queries or (QUICK_QUERIES if args.quick else 300)
    args.out = args.out or default_out("kb_search.json", args.quick)

    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load_before = os.getloadavg()
    load_at_start = load_average()
    real = [a for a in load_articles(REPO / "knowledge_base" / "articles").articles if a.published]
    if not real:
        raise SystemExit("no published articles in knowledge_base/articles")
    rss_start = rss_mib()
    embedder = MiniLMEmbedder(num_threads=args.threads or None)
    t0 = time.perf_counter()
    embedder.load()
    model_load_seconds = time.perf_counter() - t0
    embedder.embed_query("warm up")
    rss_model = rss_mib()

    specs: list[tuple[str, int, bool]] = []
    for raw in args.sizes.split(","):
        raw = raw.strip()
        by_sections = raw.endswith("s")
        specs.append((raw, int(raw.rstrip("s")), by_sections))
    max_articles = max(n for _, n, _ in specs)
    pool = generate(real, max_articles)

    store = load_store(args.store)
    loaded_at_start = len(store)
    queries = make_queries(real, args.queries)
    corpora = []
    for _raw, n, by_sections in specs:
        articles = articles_for_sections(pool, n, embedder.model_name) if by_sections else pool[:n]
        label = f"{n:,} sections" if by_sections else f"{n:,} articles"
        corpora.append(bench_size(label, articles, embedder, store, queries))

    results = {
        "benchmark": "knowledge-base search vs corpus size: hybrid, BM25 only, dense only",
        "date": now_iso(),
        "started_at": started_at,
        "quick": args.quick,
        "machine": {
            **machine_info(load_at_start),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in load_before],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "sizes": args.sizes.split(","),
        "modes": list(SEARCH_MODES),
        "torch_threads": args.threads or "default",
        "store_file": str(args.store) if args.store else None,
        "embeddings_loaded_at_start": loaded_at_start,
        "real_articles": len(real),
        "model_load_seconds": round(model_load_seconds, 2),
        "rss_mib": {
            "start": round(rss_start, 1),
            "model_loaded": round(rss_model, 1),
            "peak": round(peak_rss_mib(), 1),
        },
        "queries_per_mode": len(queries),
        "corpora": corpora,
    }
    save_store(store, args.store)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    print(
        f"model load {model_load_seconds:.1f} s; RSS {rss_start:.0f} MiB at start, {rss_model:.0f} MiB with "
        f"the model, peak {peak_rss_mib():.0f} MiB; "
        f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print()
    print(markdown(results))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
