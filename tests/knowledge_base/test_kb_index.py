"""HybridIndex behaviour with the real model: incremental embedding, drafts, delete, threads."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from knowledge_base.articles import Article, Step
from knowledge_base.embeddings import InMemoryEmbeddingStore, MiniLMEmbedder
from knowledge_base.search import HybridIndex, SearchResponse
from knowledge_base.sections import split_sections

VPN_BODY = """## Before you start

The Connect VPN app is installed on company laptops. You need a working internet connection.

## Disconnecting

Right-click the padlock icon and select Disconnect.

## If it doesn't work

Restart the laptop and try again, then contact the service desk.
"""


def vpn(**changes: Any) -> Article:
    data: dict[str, Any] = {
        "id": "vpn-windows",
        "title": "Connect to the company VPN on Windows",
        "summary": "Open the Connect VPN app, select Connect and approve the Authenticator request.",
        "tags": ["vpn", "remote"],
        "status": "published",
        "body": VPN_BODY,
        "steps": [Step(instruction="Open the Connect VPN app.", check="The window opens.")],
    }
    data.update(changes)
    return Article.model_validate(data)


PRINTER = Article(
    id="printer-jam",
    title="Clear a paper jam in the office printer",
    summary="Open the front tray, remove the stuck paper, close the tray and print again.",
    body="## Toner\n\nReplace the toner cartridge when the printer shows a toner warning.",
    status="published",
)

PASSWORD = Article(
    id="password-reset",
    title="Reset your password yourself",
    summary="Go to https://id.example.com, choose Forgot password and confirm with the Authenticator app.",
    status="published",
)


@pytest.fixture
def index(counting_embedder: Any) -> HybridIndex:
    return HybridIndex(counting_embedder)


def ids(response: SearchResponse) -> list[str]:
    return [result.article_id for result in response.results]


def vectors_of(article: Article) -> int:
    """Vectors an article needs: one per section and one of its title (the title differs from
    every section text in these articles)."""
    return len(split_sections(article, "m")) + 1


def test_upsert_then_search_finds_the_article(index: HybridIndex, counting_embedder: Any) -> None:
    stats = index.upsert_many([vpn(), PRINTER, PASSWORD])
    assert stats.indexed == 3 and stats.sections == index.section_count
    assert stats.embedded == stats.sections + 3  # and a title each
    assert counting_embedder.document_calls == 1  # one batch for the whole upsert
    response = index.search("printer paper stuck", k=2)
    assert ids(response)[0] == "printer-jam"
    best = response.results[0]
    assert best.title == PRINTER.title and best.section == PRINTER.title
    assert best.snippet.startswith("Open the front tray")
    assert best.dense_score is not None and best.bm25_score is not None and 0 < best.score <= 1
    assert ids(index.search("how do I disconnect the vpn"))[0] == "vpn-windows"
    assert index.search("how do I disconnect the vpn").results[0].section == "Disconnecting"


def test_changed_section_is_the_only_one_re_embedded(index: HybridIndex, counting_embedder: Any) -> None:
    index.upsert(vpn())
    n_sections = len(split_sections(vpn(), counting_embedder.model_name))
    assert counting_embedder.documents_embedded == vectors_of(vpn()) == n_sections + 1
    counting_embedder.reset()

    version = index.version
    stats = index.upsert(vpn())  # unchanged
    assert counting_embedder.documents_embedded == 0 and stats.reused == n_sections + 1
    assert index.version == version  # nothing changed: no rebuild, no swap

    edited = vpn(body=VPN_BODY.replace("select Disconnect.", "select Disconnect, then close the app."))
    stats = index.upsert(edited)
    assert counting_embedder.document_calls == 1 and counting_embedder.documents_embedded == 1
    assert counting_embedder.texts[0].startswith("Connect to the company VPN on Windows: Disconnecting")
    # the title's vector is kept too
    assert (stats.embedded, stats.reused, stats.sections) == (1, n_sections, n_sections)

    counting_embedder.reset()
    index.upsert(edited.model_copy(update={"audience": "everyone", "category": "network"}))
    assert counting_embedder.documents_embedded == 0  # metadata that is not indexed


def test_store_spares_embedding_after_a_restart(counting_embedder: Any) -> None:
    store = InMemoryEmbeddingStore()
    HybridIndex(counting_embedder, store).upsert_many([vpn(), PRINTER])
    embedded_first = counting_embedder.documents_embedded
    assert embedded_first == len(store) > 0
    counting_embedder.reset()
    restarted = HybridIndex(counting_embedder, store)
    stats = restarted.replace_all([vpn(), PRINTER, PASSWORD])
    assert stats.from_store == embedded_first
    # PASSWORD's only section is its title and summary: its title is one more text
    assert counting_embedder.documents_embedded == stats.embedded == vectors_of(PASSWORD)


def test_drafts_are_not_searchable(index: HybridIndex, counting_embedder: Any) -> None:
    draft = PRINTER.model_copy(update={"status": "draft"})
    stats = index.upsert_many([draft, PASSWORD])
    assert stats.indexed == 1 and "printer-jam" not in index
    assert counting_embedder.texts and not any("paper jam" in text for text in counting_embedder.texts)
    assert "printer-jam" not in ids(index.search("paper jam in the printer", k=5))

    index.upsert(PRINTER)  # published now
    assert ids(index.search("paper jam in the printer"))[0] == "printer-jam"

    stats = index.upsert(draft)  # back to draft: taken out
    assert stats.removed == 1 and "printer-jam" not in index
    assert "printer-jam" not in ids(index.search("paper jam in the printer", k=5))


def test_remove(index: HybridIndex) -> None:
    index.upsert_many([vpn(), PRINTER])
    version = index.version
    assert index.remove("printer-jam") is True
    assert index.version == version + 1
    assert "printer-jam" not in index and len(index) == 1 and index.article_ids == ["vpn-windows"]
    assert "printer-jam" not in ids(index.search("paper jam in the printer"))
    assert index.remove("printer-jam") is False
    assert index.remove("vpn-windows") is True
    empty = index.search("vpn")
    assert empty.results == () and empty.abstain


def test_replace_all_keeps_exactly_the_published_ones(index: HybridIndex) -> None:
    index.upsert_many([vpn(), PRINTER])
    stats = index.replace_all([PASSWORD, PRINTER.model_copy(update={"status": "draft"})])
    assert index.article_ids == ["password-reset"] and stats.removed == 2
    assert index.get("password-reset") == PASSWORD and index.get("vpn-windows") is None


def test_modes_abstention_and_arguments(index: HybridIndex, counting_embedder: Any) -> None:
    index.upsert_many([vpn(), PRINTER, PASSWORD])
    counting_embedder.reset()
    lexical = index.search("printer toner warning", mode="bm25")
    assert ids(lexical)[0] == "printer-jam" and lexical.results[0].dense_score is None
    assert counting_embedder.query_calls == 0  # bm25 alone never runs the model
    dense = index.search("my printer is out of ink", mode="dense")
    assert ids(dense)[0] == "printer-jam" and dense.results[0].bm25_score is None
    assert index.search("what will the weather be like tomorrow in Paris").abstain
    assert not index.search("I forgot my password").abstain
    assert index.search("   ").abstain and index.search("").results == ()
    assert len(index.search("vpn", k=1).results) == 1
    assert len(index.search("vpn", k=10).results) == 3  # never more than there are articles
    with pytest.raises(ValueError, match="k must"):
        index.search("vpn", k=0)
    with pytest.raises(ValueError, match="mode"):
        index.search("vpn", mode="fuzzy")  # type: ignore[arg-type]


def test_repeated_question_costs_no_embedding(index: HybridIndex, embedder: MiniLMEmbedder) -> None:
    index.upsert_many([vpn(), PRINTER])
    first = index.search("How do I clear a PAPER jam?")
    hits = embedder.query_cache_hits
    again = index.search("how do i clear a paper   jam?")  # same question, other case and spacing
    assert again == first
    fresh = HybridIndex(index.embedder)
    fresh.upsert_many([vpn(), PRINTER])
    assert fresh.search("how do I clear a paper jam?") == first
    assert embedder.query_cache_hits == hits + 1  # the new index reused the cached query vector


def test_query_vectors_are_normalised_and_read_only(embedder: MiniLMEmbedder) -> None:
    vector = embedder.embed_query("reset my password")
    assert vector.dtype == np.float32 and vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    assert not vector.flags.writeable
    documents = embedder.embed_documents(["a", "b c"])
    assert documents.shape == (2, 384) and documents.dtype == np.float32
    assert embedder.embed_documents([]).shape == (0, 384)


def test_searches_during_updates_see_whole_versions(index: HybridIndex) -> None:
    index.upsert_many([vpn(), PASSWORD])
    errors: list[BaseException] = []
    seen: set[tuple[str, ...]] = set()
    stop = threading.Event()

    def reader() -> None:
        n = 0
        try:
            while not stop.is_set() or n < 5:
                n += 1
                response = index.search(f"paper jam printer {n % 7}", k=3)
                seen.add(tuple(sorted(ids(response))))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(6):
        index.upsert(PRINTER if i % 2 == 0 else PRINTER.model_copy(update={"status": "draft"}))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    # every response came from one whole version: with or without the printer article
    assert seen <= {("password-reset", "vpn-windows"), ("password-reset", "printer-jam", "vpn-windows")}


def test_texts_without_indexable_words(index: HybridIndex) -> None:
    index.upsert_many([Article(id="the", title="The", status="published"), PASSWORD])
    assert "the" in index
    response = index.search("what is it")  # stop words and short words only: no BM25 terms
    assert response.results and response.abstain
    assert all(result.bm25_score == 0 for result in response.results)
    assert index.search("!!! ???").abstain
    assert ids(index.search("reset my password", mode="bm25"))[0] == "password-reset"


def test_snippet_comes_from_the_best_section(index: HybridIndex) -> None:
    index.upsert(vpn())
    best = index.search("how do I disconnect from the vpn").results[0]
    assert best.section == "Disconnecting"
    assert best.snippet == "Right-click the padlock icon and select Disconnect."
    steps = index.search("open the connect vpn app and check the window opens", mode="bm25").results[0]
    assert steps.section in {"Steps", vpn().title}


def test_apply_upserts_and_removes_in_one_swap(index: HybridIndex) -> None:
    index.upsert_many([vpn(), PRINTER])
    version = index.version
    stats = index.apply(upserts=[PASSWORD, vpn(summary="Changed summary.")], removals=["printer-jam"])
    assert index.version == version + 1
    assert index.article_ids == ["password-reset", "vpn-windows"]
    assert (stats.removed, stats.embedded) == (1, 1 + vectors_of(PASSWORD))
    assert index.get("vpn-windows") == vpn(summary="Changed summary.")
    stats = index.apply(upserts=[PRINTER], removals=["printer-jam", "never-there"])  # removal wins
    assert "printer-jam" not in index and stats.removed == 0 and index.version == version + 1
