"""Blocking twins of the cache manager, the Live pool, the stores and batches, for ``Gemini``.

``Gemini.cache_manager``, ``Gemini.live``, ``Gemini.stores`` and ``Gemini.batches`` return
these; each method runs its async original on the client's loop thread (see
:mod:`gemgate.client._blocking`). A Live session taken from the pool is a
:class:`BlockingLiveSession`.
"""

from __future__ import annotations

from gemgate.batch import Batches, BatchJournal
from gemgate.caching import CacheManager
from gemgate.client._blocking import (
    Blocking,
    Forwarded,
    blocking,
    entering,
    iterating,
    plain,
    wrapping,
)
from gemgate.live import LivePool, LiveSession
from gemgate.rag import FileSearchStore, FileSearchStores, Store, StoreInfo, Stores
from gemgate.rag._backend import StoreBackend
from gemgate.rag._embed import Embedder
from gemgate.upstream._engine import Engine

__all__ = [
    "BlockingBatches",
    "BlockingCacheManager",
    "BlockingFileSearchStore",
    "BlockingFileSearchStores",
    "BlockingLivePool",
    "BlockingLiveSession",
    "BlockingStore",
    "BlockingStores",
]


class BlockingCacheManager(Blocking[CacheManager], twin_of=CacheManager):
    """:class:`~gemgate.caching.CacheManager`, blocking: ``Gemini.cache_manager``.

    Example::

        with Gemini() as g:
            name = g.cache_manager.create_cache(
                model="gemini-2.5-flash", content=long_manual, ttl="1h", cache_name="manual"
            )
            g.cache_manager.update_cache_ttl(name, "2h")
            print([c.display_name for c in g.cache_manager.list_caches()])
            g.cache_manager.delete_cache(name)
    """

    create_cache = blocking(CacheManager.create_cache)
    get_cache = blocking(CacheManager.get_cache)
    list_caches = blocking(CacheManager.list_caches)
    locate = blocking(CacheManager.locate)
    update_cache_ttl = blocking(CacheManager.update_cache_ttl)
    get_and_refresh = blocking(CacheManager.get_and_refresh)
    touch = blocking(CacheManager.touch)
    delete_cache = blocking(CacheManager.delete_cache)
    forget = plain(CacheManager.forget)
    ensure = blocking(CacheManager.ensure)


class BlockingLiveSession(Blocking[LiveSession], twin_of=LiveSession):
    """A pooled :class:`~gemgate.live.LiveSession`, blocking: ``Gemini.live.session(id)``.

    Example::

        with Gemini() as g:
            live = g.live.session("user-1")
            for piece in live.stream("Hello, Live!"):
                print(piece, end="")
    """

    model = Forwarded[str]()
    handle = Forwarded[str | None]()
    reconnects = Forwarded[int]()
    closed = Forwarded[bool]()
    busy = Forwarded[bool]()
    connected = Forwarded[bool]()
    connect = blocking(LiveSession.connect)
    turn = iterating(LiveSession.turn)
    stream = iterating(LiveSession.stream)
    ask = blocking(LiveSession.ask)
    send_image = blocking(LiveSession.send_image)
    send_audio = blocking(LiveSession.send_audio)
    end_audio = iterating(LiveSession.end_audio)
    seed = blocking(LiveSession.seed)
    settle = blocking(LiveSession.settle)
    close = blocking(LiveSession.aclose)
    __enter__ = entering(LiveSession.__aenter__)
    __exit__ = blocking(LiveSession.__aexit__)


class BlockingLivePool(Blocking[LivePool], twin_of=LivePool):
    """:class:`~gemgate.live.LivePool`, blocking: ``Gemini.live``.

    Example::

        with Gemini() as g:                     # no key: the built-in emulator
            for piece in g.live.process_text_stream("Hi", session_id="user-1"):
                print(piece, end="")
            print(g.live.health_check())
            g.live.close_session("user-1")
    """

    ttl = Forwarded[float]()
    max_sessions = Forwarded[int]()
    opens_per_minute = Forwarded[int]()
    __len__ = plain(LivePool.__len__)
    __contains__ = plain(LivePool.__contains__)
    session = wrapping(BlockingLiveSession, LivePool.session)
    cleanup = blocking(LivePool.cleanup)
    close_session = blocking(LivePool.close_session)
    process_text_stream = iterating(LivePool.process_text_stream)
    process_text = blocking(LivePool.process_text)
    process_image = blocking(LivePool.process_image)
    health_check = blocking(LivePool.health_check)
    close = blocking(LivePool.aclose)


class BlockingStore(Blocking[Store], twin_of=Store):
    """A retrieval :class:`~gemgate.rag.Store`, blocking: from ``Gemini.stores``.

    Example::

        with Gemini() as g:
            store = g.stores.open("handbook")
            store.add("docs/", progress=True)
            for hit in store.search("refund policy", k=3):
                print(round(hit.score, 3), hit.document.name, hit.chunk.text[:60])
    """

    info = Forwarded[StoreInfo]()
    id = Forwarded[str]()
    name = Forwarded[str]()
    __repr__ = plain(Store.__repr__)
    refresh = blocking(Store.refresh)
    add = blocking(Store.add)
    replace = blocking(Store.replace)
    search = blocking(Store.search)
    documents = blocking(Store.documents)
    document = blocking(Store.document)
    chunks = blocking(Store.chunks)
    delete_document = blocking(Store.delete_document)
    delete = blocking(Store.delete)


class BlockingStores(Blocking[Stores], twin_of=Stores):
    """:class:`~gemgate.rag.Stores`, blocking: ``Gemini.stores``."""

    backend = Forwarded[StoreBackend]()
    embedder = Forwarded[Embedder]()
    owner = Forwarded[str]()
    create = wrapping(BlockingStore, Stores.create)
    get = wrapping(BlockingStore, Stores.get)
    open = wrapping(BlockingStore, Stores.open)
    list = blocking(Stores.list)
    delete = blocking(Stores.delete)
    close = blocking(Stores.aclose)

    def find(self, name: str) -> BlockingStore | None:
        """The store called ``name`` (or with this id), or None."""
        found = self._runner.call(Stores.find, self._async, name)
        return None if found is None else self._twin(BlockingStore, found)

    def for_owner(self, owner: str) -> BlockingStores:
        """The stores of ``owner``, over the same backend and embedder."""
        return self._twin(BlockingStores, self._runner.run(Stores.for_owner, self._async, owner))


class BlockingFileSearchStore(Blocking[FileSearchStore], twin_of=FileSearchStore):
    """A Gemini :class:`~gemgate.rag.FileSearchStore`, blocking: from ``Gemini.stores``.

    Example::

        with Gemini(stores_url="gemini://file-search") as g:
            store = g.stores.open("handbook")
            store.add("docs/")
            for hit in store.search("refund policy", k=3):
                print(hit.document.name, hit.chunk.text[:60])
    """

    info = Forwarded[StoreInfo]()
    id = Forwarded[str]()
    name = Forwarded[str]()
    resource = Forwarded[str]()
    __repr__ = plain(FileSearchStore.__repr__)
    refresh = blocking(FileSearchStore.refresh)
    add = blocking(FileSearchStore.add)
    replace = blocking(FileSearchStore.replace)
    search = blocking(FileSearchStore.search)
    documents = blocking(FileSearchStore.documents)
    document = blocking(FileSearchStore.document)
    chunks = blocking(FileSearchStore.chunks)
    delete_document = blocking(FileSearchStore.delete_document)
    delete = blocking(FileSearchStore.delete)


class BlockingFileSearchStores(Blocking[FileSearchStores], twin_of=FileSearchStores):
    """:class:`~gemgate.rag.FileSearchStores`, blocking: ``Gemini.stores`` on File Search."""

    engine = Forwarded[Engine]()
    model = Forwarded[str]()
    owner = Forwarded[str]()
    create = wrapping(BlockingFileSearchStore, FileSearchStores.create)
    get = wrapping(BlockingFileSearchStore, FileSearchStores.get)
    open = wrapping(BlockingFileSearchStore, FileSearchStores.open)
    list = blocking(FileSearchStores.list)
    delete = blocking(FileSearchStores.delete)
    close = blocking(FileSearchStores.aclose)

    def find(self, name: str) -> BlockingFileSearchStore | None:
        """The store called ``name`` (or with this id), or None."""
        found = self._runner.call(FileSearchStores.find, self._async, name)
        return None if found is None else self._twin(BlockingFileSearchStore, found)

    def for_owner(self, owner: str) -> BlockingFileSearchStores:
        """The stores of ``owner``, through the same engine."""
        stores = self._runner.run(FileSearchStores.for_owner, self._async, owner)
        return self._twin(BlockingFileSearchStores, stores)


class BlockingBatches(Blocking[Batches], twin_of=Batches):
    """:class:`~gemgate.batch.Batches`, blocking: ``Gemini.batches``.

    Example::

        with Gemini() as g:
            job = g.batches.submit({"a": "Hi", "b": "Name a prime"})
            g.batches.wait(job.id, progress=True)
            print(g.batches.results(job.id))
    """

    engine = Forwarded[Engine]()
    owner = Forwarded[str]()
    inline_limit = Forwarded[int]()
    poll_interval = Forwarded[float]()
    max_poll_interval = Forwarded[float]()
    journal = Forwarded[BatchJournal]()
    submit = blocking(Batches.submit)
    submit_embeddings = blocking(Batches.submit_embeddings)
    get = blocking(Batches.get)
    cancel = blocking(Batches.cancel)
    delete = blocking(Batches.delete)
    wait = blocking(Batches.wait)
    results = blocking(Batches.results)
    iter_results = iterating(Batches.iter_results)
    list = blocking(Batches.list)
    pending = blocking(Batches.pending)
    record = blocking(Batches.record)
    records = blocking(Batches.records)
    resume = blocking(Batches.resume)
    close = blocking(Batches.aclose)

    def for_owner(self, owner: str) -> BlockingBatches:
        """The same batches API, journalling and listing as ``owner``."""
        return self._twin(BlockingBatches, self._runner.run(Batches.for_owner, self._async, owner))
