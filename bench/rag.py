"""Retrieval stores: search quality on a labelled corpus, and ingest and search speed.

``quality``: each of the Lee corpus's 50 rated documents is the query, against the other
49 and 300 background documents, through ``Store.search`` on SQLite; nDCG@10 (graded by
the people's ratings) and recall@10 (rating >= 0.5) for keyword, vector and hybrid
search, with the emulator's embeddings and with all-MiniLM-L6-v2.

``speed``: ingest throughput and search latency of SQLite and pgvector (a private
cluster from ``pgserver``) at 10k and 100k synthetic chunks, embedded by random vectors
so that the store is what is measured; plus the emulator's embeddings at 10k, end to end.

    python -m bench.rag [quality|speed|all] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench._embedders import MiniLM, RandomEmbedder
from bench._lee import RELEVANT, load_lee, ndcg_at, recall_at
from bench._pgvector import private_cluster
from gemgate import AsyncGemini
from gemgate.documents import chunk_pages, parse
from gemgate.rag import Chunking, Embedder, SearchMode, Source, Store, Stores, open_backend

MODES: tuple[SearchMode, ...] = ("keyword", "vector", "hybrid")
K = 10
WHOLE = Chunking(max_tokens=8192, overlap=0)
"""Every Lee document is one chunk (the longest is ~1,000 tokens)."""
CHUNKING = Chunking(max_tokens=200, overlap=0)
"""The synthetic chunks: about 150 words each."""


# -- quality ---------------------------------------------------------------------------


@dataclass
class Scores:
    """Per-mode nDCG@10 and recall@10 of one embedder."""

    ndcg: dict[str, list[float]] = field(default_factory=dict)
    recall: dict[str, list[float]] = field(default_factory=dict)


async def quality(embedders: Sequence[tuple[str, Embedder]]) -> None:
    """Score each embedder on the Lee corpus and print one table."""
    lee = load_lee()
    judged = len(lee.documents)
    relevant = [
        {j for j in range(judged) if j != i and lee.ratings[i, j] >= RELEVANT}
        for i in range(judged)
    ]
    answerable = sum(1 for r in relevant if r)
    results: list[tuple[str, Scores, float]] = []
    for name, embedder in embedders:
        with tempfile.TemporaryDirectory() as folder:
            async with _stores(f"sqlite:///{folder}/lee.db", embedder) as stores:
                started = time.perf_counter()
                store = await _lee_store(stores, lee.documents, lee.background)
                seconds = time.perf_counter() - started
                labels = [f"r{i}" for i in range(judged)]
                labels += [f"b{i}" for i in range(len(lee.background))]
                scores = await _score(store, lee.documents, labels, lee.ratings, relevant)
        results.append((name, scores, seconds))
    print(
        f"Lee corpus: {judged} queries against {judged - 1} rated + {len(lee.background)} "
        f"background documents (one chunk each; the store keeps one copy of the background's "
        f"duplicates); recall over the {answerable} queries with a document rated >= {RELEVANT}"
    )
    print("± is the standard error over queries; vs keyword: the paired mean difference")
    head = f"{'embedder':<20}{'mode':<9}{'nDCG@10':>15}{'vs keyword':>17}"
    print(f"{head}{'recall@10':>15}{'vs keyword':>17}{'ingest s':>10}")
    for name, scores, seconds in results:
        for mode in MODES:
            cells = ""
            for metric in (scores.ndcg, scores.recall):
                ours, base = np.array(metric[mode]), np.array(metric["keyword"])
                cells += f"{_mean(ours):>15}{_mean(ours - base) if mode != 'keyword' else '':>17}"
            print(f"{name:<20}{mode:<9}{cells}{seconds:>10.1f}")


def _mean(values: np.ndarray) -> str:
    error = values.std(ddof=1) / np.sqrt(len(values))
    return f"{values.mean():+.3f} ± {error:.3f}".lstrip("+")


async def _lee_store(stores: Stores, documents: list[str], background: list[str]) -> Store:
    store = await stores.create("lee")
    sources = [
        Source(f"lee-{i:02d}.txt", text.encode(), "text/plain", {"lee": f"r{i}"})
        for i, text in enumerate(documents)
    ] + [
        Source(f"background-{i:03d}.txt", text.encode(), "text/plain", {"lee": f"b{i}"})
        for i, text in enumerate(background)
    ]
    report = await store.add(*sources, chunking=WHOLE)
    if report.failed or report.chunks != len(report.added):
        raise SystemExit(f"the Lee corpus did not ingest one chunk a document: {report.failed}")
    return store


async def _score(
    store: Store,
    documents: list[str],
    labels: list[str],
    ratings: np.ndarray,
    relevant: list[set[int]],
) -> Scores:
    """Each rated document as the query, searched among all documents but itself."""
    scores = Scores({m: [] for m in MODES}, {m: [] for m in MODES})
    for i, query in enumerate(documents):
        others = {"lee": [label for label in labels if label != f"r{i}"]}
        gains = np.delete(ratings[i], i)
        for mode in MODES:
            hits = await store.search(query, K, mode=mode, filter=others)
            ranked = _judged_ranks(hit.document.metadata["lee"] for hit in hits)
            shifted = [j - (j > i) if j >= 0 else -1 for j in ranked]
            scores.ndcg[mode].append(ndcg_at(shifted, gains, K))
            if relevant[i]:
                scores.recall[mode].append(recall_at(ranked, relevant[i], K))
    return scores


def _judged_ranks(labels: Any) -> list[int]:
    """Each hit's rated-document index, -1 for a background one (documents in hit order)."""
    seen: list[str] = []
    for label in labels:
        if label not in seen:
            seen.append(label)
    return [int(label[1:]) if label[0] == "r" else -1 for label in seen]


# -- speed -----------------------------------------------------------------------------


@dataclass
class Speed:
    """One store at one size: ingest throughput and search latencies in ms."""

    backend: str
    embedder: str
    chunks: int
    rate: float
    latency: dict[str, tuple[float, float]]


class Corpus:
    """Synthetic documents of Zipf-distributed made-up words, and queries over them."""

    WORDS_PER_CHUNK = 150
    PARAGRAPHS = 20

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = self.rng.integers(3, 10, 20_000)
        self.vocabulary = np.array(["".join(self.rng.choice(letters, n)) for n in lengths])
        weights = 1.0 / np.arange(1, len(self.vocabulary) + 1)
        self.p = weights / weights.sum()

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(self.vocabulary, n, p=self.p))

    def documents(self, chunks: int) -> list[Source]:
        """About ``chunks`` chunks' worth of documents (as many as one cuts into, times n)."""
        first = self._document(0)
        _, pages = parse(first.data, name=first.name, mime_type="text/plain")
        per_document = len(chunk_pages(pages, CHUNKING))
        count = max(1, round(chunks / per_document))
        return [first, *(self._document(d) for d in range(1, count))]

    def _document(self, number: int) -> Source:
        paragraphs = (self.words(self.WORDS_PER_CHUNK) + "." for _ in range(self.PARAGRAPHS))
        return Source(f"synthetic-{number:06d}.txt", "\n\n".join(paragraphs).encode(), "text/plain")

    def queries(self, n: int) -> list[str]:
        middle = self.vocabulary[50:5000]
        return [" ".join(self.rng.choice(middle, self.rng.integers(2, 6))) for _ in range(n)]


async def measure(stores: Stores, label: str, sources: list[Source], queries: list[str]) -> Speed:
    """Ingest ``sources`` into a new store, then time each query in each mode."""
    store = await stores.create(f"bench-{time.time_ns()}")
    try:
        report = await store.add(*sources, chunking=CHUNKING, concurrency=4)
        if report.failed:
            raise SystemExit(f"ingest failed: {report.failed[:3]}")
        latency: dict[str, tuple[float, float]] = {}
        for mode in MODES:
            await store.search(queries[0], K, mode=mode)
            times = []
            for query in queries:
                started = time.perf_counter()
                await store.search(query, K, mode=mode)
                times.append((time.perf_counter() - started) * 1000)
            latency[mode] = (float(np.percentile(times, 50)), float(np.percentile(times, 99)))
        return Speed(label, stores.embedder.model, report.chunks, report.chunks / report.seconds,
                     latency)  # fmt: skip
    finally:
        await store.delete()


@asynccontextmanager
async def _stores(url: str, embedder: Embedder) -> AsyncIterator[Stores]:
    stores = Stores(open_backend(url), embedder)
    try:
        yield stores
    finally:
        await stores.aclose()


async def speed(sizes: Sequence[int], queries: int, emulator_size: int) -> None:
    """Time both backends at each size, and the emulator's embeddings once; print a table."""
    corpus = Corpus()
    asked = corpus.queries(queries)
    results: list[Speed] = []
    random = RandomEmbedder(768)
    with tempfile.TemporaryDirectory() as folder, private_cluster() as postgres:
        urls = [("sqlite", f"sqlite:///{folder}/speed.db")]
        if postgres is None:
            print("pgserver is not installed: PostgreSQL is left out")
        else:
            urls.append(("pgvector", postgres))
        for size in sizes:
            sources = corpus.documents(size)
            for label, url in urls:
                async with _stores(url, random) as stores:
                    results.append(await measure(stores, label, sources, asked))
                _progress(results[-1])
        url = f"sqlite:///{folder}/emulated.db"
        async with AsyncGemini.emulated(stores_url=url) as g:
            sources = corpus.documents(emulator_size)
            results.append(await measure(g.stores, "sqlite", sources, asked))
        _progress(results[-1])
    print()
    print(f"{len(asked)} queries of 2-5 words each, k={K}; latency p50/p99 in ms")
    head = "".join(f"{mode + ' p50/p99':>20}" for mode in MODES)
    print(f"{'backend':<10}{'embedder':<36}{'chunks':>8}{'ingest chunks/s':>17}{head}")
    for r in results:
        cells = "".join(f"{r.latency[m][0]:>11.1f} /{r.latency[m][1]:>7.1f}" for m in MODES)
        print(f"{r.backend:<10}{r.embedder:<36}{r.chunks:>8,}{r.rate:>17,.0f}{cells}")


def _progress(result: Speed) -> None:
    print(f"  measured {result.backend} {result.embedder} {result.chunks:,} chunks", flush=True)


# -- command ---------------------------------------------------------------------------


async def main(what: str, quick: bool) -> None:
    """Run the parts asked for."""
    if what in ("quality", "all"):
        async with AsyncGemini.emulated() as g:
            await quality([("emulator", g.stores.embedder), ("all-MiniLM-L6-v2", MiniLM())])
        print()
    if what in ("speed", "all"):
        sizes = (1_000, 5_000) if quick else (10_000, 100_000)
        await speed(sizes, queries=50 if quick else 200, emulator_size=sizes[0])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.rag", description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", choices=("quality", "speed", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="1k and 5k chunks, 50 queries")
    options = parser.parse_args()
    asyncio.run(main(options.what, options.quick))
