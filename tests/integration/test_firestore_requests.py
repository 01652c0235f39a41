"""FirestoreStore against the real client with its GAPIC layer mocked: no emulator, no network.

The mock returns real response protos, so the client's own encoding and decoding run; each test
asserts the exact request the client built from what the store asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.services.firestore.client import FirestoreClient
from google.cloud.firestore_v1.types import document, query, write
from google.cloud.firestore_v1.types import firestore as fs
from google.cloud.firestore_v1.vector import Vector
from google.protobuf import timestamp_pb2

from shared.store import (
    EXPIRES_AT,
    DistanceMeasure,
    Embedding,
    Filter,
    Hit,
    Increment,
    Order,
    ReadAfterWriteError,
    StoreError,
    StoreUnavailable,
    TransactionFailed,
    VectorMismatchError,
    Write,
    firestore_store,
)
from shared.store.firestore_store import DISTANCE_FIELD, FirestoreStore

PROJECT = "test-proj"
DATABASE = f"projects/{PROJECT}/databases/(default)"
DOCS = f"{DATABASE}/documents"
TIMEOUT = 7.5
NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
TS = timestamp_pb2.Timestamp(seconds=int(NOW.timestamp()))
Op = query.StructuredQuery.FieldFilter.Operator
Direction = query.StructuredQuery.Direction
FsMeasure = query.StructuredQuery.FindNearest.DistanceMeasure


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> mock.NonCallableMagicMock:
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    fake: mock.NonCallableMagicMock = mock.create_autospec(FirestoreClient, instance=True)
    fake.commit.side_effect = lambda request, **_: commit_response(len(request["writes"]))
    return fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(api: mock.NonCallableMagicMock, clock: Clock) -> FirestoreStore:
    client = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
    assert client._emulator_host is None
    client._firestore_api_internal = api
    return FirestoreStore(client, clock=clock, timeout_s=TIMEOUT)


# --- response protos


def doc_pb(path: str, data: dict[str, Any]) -> document.Document:
    return document.Document(
        name=f"{DOCS}/{path}", fields=_helpers.encode_dict(data), create_time=TS, update_time=TS
    )


def query_results(*docs: document.Document) -> Iterator[fs.RunQueryResponse]:
    if not docs:  # the server's answer to a query that matched nothing
        return iter([fs.RunQueryResponse(read_time=TS)])
    return iter([fs.RunQueryResponse(document=d, read_time=TS) for d in docs])


def found(path: str, data: dict[str, Any]) -> Iterator[fs.BatchGetDocumentsResponse]:
    return iter([fs.BatchGetDocumentsResponse(found=doc_pb(path, data), read_time=TS)])


def missing(path: str) -> Iterator[fs.BatchGetDocumentsResponse]:
    return iter([fs.BatchGetDocumentsResponse(missing=f"{DOCS}/{path}", read_time=TS)])


def commit_response(n: int) -> fs.CommitResponse:
    return fs.CommitResponse(
        write_results=[write.WriteResult(update_time=TS) for _ in range(n)], commit_time=TS
    )


# --- request helpers


def only_request(method: mock.MagicMock) -> Any:
    method.assert_called_once()
    return request_of(method.call_args)


def request_of(call: Any) -> Any:
    assert call.kwargs.get("timeout") in (TIMEOUT, None)
    return call.kwargs["request"]


def field_filters(structured: query.StructuredQuery) -> list[tuple[str, Any, Any]]:
    """The query's filters as (field path, operator, decoded value)."""
    where = structured.where
    if "composite_filter" in where:
        assert where.composite_filter.op == query.StructuredQuery.CompositeFilter.Operator.AND
        pbs = [f.field_filter for f in where.composite_filter.filters]
    else:
        pbs = [where.field_filter]
    return [(f.field.field_path, f.op, _helpers.decode_value(f.value, None)) for f in pbs]


def doubles(value: Any) -> list[float]:
    """The double values of a `__vector__` map Value, checking its shape."""
    assert value.map_value.fields["__type__"].string_value == "__vector__"
    items = value.map_value.fields["value"].array_value.values
    assert all(v._pb.WhichOneof("value_type") == "double_value" for v in items)
    return [v.double_value for v in items]


# --- find_nearest


@pytest.mark.parametrize(
    ("measure", "wire"),
    [
        (DistanceMeasure.EUCLIDEAN, FsMeasure.EUCLIDEAN),
        (DistanceMeasure.COSINE, FsMeasure.COSINE),
        (DistanceMeasure.DOT_PRODUCT, FsMeasure.DOT_PRODUCT),
    ],
    ids=["EUCLIDEAN", "COSINE", "DOT_PRODUCT"],
)
def test_nearest_builds_the_find_nearest_request(
    store: FirestoreStore, api: mock.NonCallableMagicMock, measure: DistanceMeasure, wire: Any
) -> None:
    api.run_query.return_value = query_results(
        doc_pb(
            "products/p1",
            {
                "name": "Mug",
                "embedding": Vector([0.5, 0.0, 1.0]),
                "embedding_model": "m-1",
                DISTANCE_FIELD: 0.125,
            },
        ),
    )
    store.nearest(
        "products",
        field="embedding",
        query=Embedding([0.5, -0.25, 1.0], "m-1"),
        k=7,
        measure=measure,
        threshold=0.4,
        where=[Filter("shop_id", "==", "s1"), Filter("in_stock", "==", True)],
    )
    request = only_request(api.run_query)
    assert request["parent"] == DOCS
    assert request["transaction"] is None
    sq = request["structured_query"]
    assert [c.collection_id for c in sq.from_] == ["products"]
    fn = sq.find_nearest
    assert fn.vector_field.field_path == "embedding"
    assert fn.limit == 7
    assert fn.distance_measure == wire
    assert fn.distance_result_field == DISTANCE_FIELD
    assert fn.distance_threshold == 0.4
    assert doubles(fn.query_vector) == [0.5, -0.25, 1.0]
    assert field_filters(sq) == [
        ("embedding_model", Op.EQUAL, "m-1"),
        ("shop_id", Op.EQUAL, "s1"),
        ("in_stock", Op.EQUAL, True),
    ]
    assert not sq.order_by


def test_nearest_without_threshold_or_prefilters(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.run_query.return_value = query_results(
        doc_pb("c/a", {"e": Vector([1.0]), "e_model": "m", DISTANCE_FIELD: 2.0})
    )
    store.nearest("c", field="e", query=Embedding([3.0], "m"), k=1)
    sq = only_request(api.run_query)["structured_query"]
    assert "distance_threshold" not in sq.find_nearest
    assert sq.find_nearest.distance_measure == FsMeasure.DOT_PRODUCT  # the port's default
    assert field_filters(sq) == [("e_model", Op.EQUAL, "m")]


def test_nearest_decodes_hits(store: FirestoreStore, api: mock.NonCallableMagicMock) -> None:
    seen = datetime(2031, 5, 1, 8, 30, 15, 250000, tzinfo=UTC)
    api.run_query.return_value = query_results(
        doc_pb(
            "products/p1",
            {
                "name": "Mug",
                "embedding": Vector([0.5, 0.25]),
                "embedding_model": "m-1",
                "seen": seen,
                DISTANCE_FIELD: 0.125,
            },
        ),
        doc_pb(
            "products/p2",
            {
                "name": "Cup",
                "embedding": Vector([1.0, 2.0]),
                "embedding_model": "m-1",
                DISTANCE_FIELD: 0.5,
            },
        ),
    )
    hits = store.nearest(
        "products",
        field="embedding",
        query=Embedding([0.5, 0.25], "m-1"),
        k=2,
        measure=DistanceMeasure.COSINE,
    )
    assert hits == [
        Hit("p1", {"name": "Mug", "embedding": Embedding([0.5, 0.25], "m-1"), "seen": seen}, 0.125),
        Hit("p2", {"name": "Cup", "embedding": Embedding([1.0, 2.0], "m-1")}, 0.5),
    ]


def test_nearest_drops_expired_hits_and_asks_again_to_fill_k(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    def hit(i: int, expired: bool) -> document.Document:
        expires = NOW + timedelta(minutes=-1 if expired else 1)
        return doc_pb(
            f"cache/q{i}",
            {
                "e": Vector([float(i)]),
                "e_model": "m",
                EXPIRES_AT: expires,
                DISTANCE_FIELD: float(i),
            },
        )

    api.run_query.side_effect = [
        query_results(hit(0, True), hit(1, False), hit(2, True)),
        query_results(hit(0, True), hit(1, False), hit(2, True), hit(3, False), hit(4, False)),
    ]
    hits = store.nearest(
        "cache", field="e", query=Embedding([0.0], "m"), k=3, measure=DistanceMeasure.EUCLIDEAN
    )
    assert [h.id for h in hits] == ["q1", "q3", "q4"]
    limits = [
        request_of(c)["structured_query"].find_nearest.limit for c in api.run_query.call_args_list
    ]
    assert limits == [3, 5]  # k, then k plus the two places expired documents took


def test_nearest_stops_asking_when_candidates_run_out(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    expired = NOW - timedelta(seconds=1)
    api.run_query.side_effect = [
        query_results(
            doc_pb(
                "c/a",
                {"e": Vector([1.0]), "e_model": "m", EXPIRES_AT: expired, DISTANCE_FIELD: 1.0},
            )
        ),
    ]
    assert store.nearest("c", field="e", query=Embedding([1.0], "m"), k=2) == []
    assert api.run_query.call_count == 1  # fewer than k came back: nothing more to find


def test_an_empty_nearest_probes_for_vectors_of_another_size(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.run_query.side_effect = [
        query_results(),
        query_results(doc_pb("c/a", {"e": Vector([1.0, 2.0])})),
    ]
    with pytest.raises(VectorMismatchError, match="2 dimensions; the query has 3"):
        store.nearest("c", field="e", query=Embedding([1.0, 0.0, 0.0], "m"), k=2)
    probe = request_of(api.run_query.call_args_list[1])
    assert "find_nearest" not in probe["structured_query"]
    assert field_filters(probe["structured_query"]) == [("e_model", Op.EQUAL, "m")]
    assert [f.field_path for f in probe["structured_query"].select.fields] == ["e"]
    assert probe["structured_query"].limit == 1


def test_an_empty_nearest_probes_for_vectors_of_another_model_and_caches(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.run_query.side_effect = [
        query_results(),
        query_results(),  # no vector of the query's model
        query_results(doc_pb("c/a", {"e_model": "old-model"})),
        query_results(),  # the same search again: the probe's answer is cached
    ]
    for _ in range(2):
        with pytest.raises(VectorMismatchError, match="'old-model'"):
            store.nearest("c", field="e", query=Embedding([1.0], "new-model"), k=2)
    assert api.run_query.call_count == 4
    other = request_of(api.run_query.call_args_list[2])["structured_query"]
    assert field_filters(other) == [("e_model", Op.NOT_EQUAL, "new-model")]
    assert other.limit == 1


def test_an_empty_nearest_with_matching_vectors_is_just_empty(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.run_query.side_effect = [
        query_results(),
        query_results(doc_pb("c/a", {"e": Vector([5.0, 5.0])})),
    ]
    assert (
        store.nearest(
            "c",
            field="e",
            query=Embedding([1.0, 0.0], "m"),
            k=2,
            threshold=0.1,
            measure=DistanceMeasure.EUCLIDEAN,
        )
        == []
    )


# --- queries


@pytest.mark.parametrize(
    ("op", "wire"),
    [
        ("==", Op.EQUAL),
        ("<", Op.LESS_THAN),
        ("<=", Op.LESS_THAN_OR_EQUAL),
        (">", Op.GREATER_THAN),
        (">=", Op.GREATER_THAN_OR_EQUAL),
        ("array-contains", Op.ARRAY_CONTAINS),
    ],
)
def test_query_filter_operators(
    store: FirestoreStore, api: mock.NonCallableMagicMock, op: Any, wire: Any
) -> None:
    api.run_query.return_value = query_results()
    store.query("products", where=[Filter("price", op, 12)])
    sq = only_request(api.run_query)["structured_query"]
    assert field_filters(sq) == [("price", wire, 12)]


def test_query_builds_filters_order_and_limit(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    after = datetime(2031, 5, 4, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    api.run_query.return_value = query_results()
    store.query(
        "sessions/s1/messages",
        where=[
            Filter("role", "==", "user"),
            Filter("created_at", ">", after),
            Filter("tags", "array-contains", "x"),
            Filter("kind", "in", ["a", "b"]),
        ],
        order_by=[Order("turn", descending=True)],
        limit=10,
    )
    request = only_request(api.run_query)
    assert request["parent"] == f"{DOCS}/sessions/s1"
    sq = request["structured_query"]
    assert [c.collection_id for c in sq.from_] == ["messages"]
    assert field_filters(sq) == [
        ("role", Op.EQUAL, "user"),
        ("created_at", Op.GREATER_THAN, after),
        ("tags", Op.ARRAY_CONTAINS, "x"),
        ("kind", Op.IN, ["a", "b"]),
    ]
    ts = sq.where.composite_filter.filters[1].field_filter.value._pb.timestamp_value
    assert (ts.seconds, ts.nanos) == (int(after.timestamp()), 123456000)
    # The inequality field follows the explicit order, in its direction (Firestore's own rule).
    assert [(o.field.field_path, o.direction) for o in sq.order_by] == [
        ("turn", Direction.DESCENDING),
        ("created_at", Direction.DESCENDING),
    ]
    assert sq.limit == 10


def test_query_without_limit_or_order(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.run_query.return_value = query_results(doc_pb("c/a", {"x": 1}), doc_pb("c/b", {"x": 2}))
    docs = store.query("c")
    sq = only_request(api.run_query)["structured_query"]
    assert "limit" not in sq
    assert not sq.order_by
    assert "where" not in sq
    assert [(d.id, d.data) for d in docs] == [("a", {"x": 1}), ("b", {"x": 2})]


def test_query_pages_past_expired_documents_to_fill_the_limit(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    gone, live = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    api.run_query.side_effect = [
        query_results(
            doc_pb("c/a", {"n": 1, EXPIRES_AT: gone}), doc_pb("c/b", {"n": 2, EXPIRES_AT: live})
        ),
        query_results(doc_pb("c/c", {"n": 3})),
    ]
    docs = store.query("c", order_by=[Order("n")], limit=2)
    assert [(d.id, d.data) for d in docs] == [("b", {"n": 2, EXPIRES_AT: live}), ("c", {"n": 3})]
    first, second = (request_of(c)["structured_query"] for c in api.run_query.call_args_list)
    assert first.limit == 2
    assert "start_at" not in first
    assert second.limit == 1
    assert [(o.field.field_path, o.direction) for o in second.order_by] == [
        ("n", Direction.ASCENDING),
        ("__name__", Direction.ASCENDING),
    ]
    cursor = second.start_at
    assert cursor.before is False  # start_after
    assert cursor.values[0].integer_value == 2
    assert cursor.values[1].reference_value == f"{DOCS}/c/b"


def test_get_request_and_decoding(
    store: FirestoreStore, api: mock.NonCallableMagicMock, clock: Clock
) -> None:
    expires = NOW + timedelta(minutes=5)
    data = {
        "user": "u1",
        "turns": [{"role": "user", "n": 1}],
        EXPIRES_AT: expires,
        "e": Vector([1.0, 2.0]),
        "e_model": "m",
    }
    api.batch_get_documents.side_effect = lambda **_: found("sessions/s1", data)
    got = store.get("sessions", "s1")
    request = request_of(api.batch_get_documents.call_args)
    assert request == {
        "database": DATABASE,
        "documents": [f"{DOCS}/sessions/s1"],
        "mask": None,
        "transaction": None,
    }
    assert api.batch_get_documents.call_args.kwargs["timeout"] == TIMEOUT
    assert got == {
        "user": "u1",
        "turns": [{"role": "user", "n": 1}],
        EXPIRES_AT: expires,
        "e": Embedding([1.0, 2.0], "m"),
    }
    clock.now = expires
    assert store.get("sessions", "s1") is None


def test_get_of_a_missing_document(store: FirestoreStore, api: mock.NonCallableMagicMock) -> None:
    api.batch_get_documents.return_value = missing("sessions/nope")
    assert store.get("sessions", "nope") is None


# --- writes


def test_set_encodes_values(store: FirestoreStore, api: mock.NonCallableMagicMock) -> None:
    when = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    store.set(
        "products",
        "p1",
        {
            "name": "Mug",
            "price": 12,
            "ratio": 0.5,
            "ok": True,
            "none": None,
            "tags": ("a", "b"),
            "attrs": {"color": "red"},
            "updated_at": when,
            "embedding": Embedding([0.25, -1.0, 3.0], "gemini-embedding-001"),
        },
    )
    request = only_request(api.commit)
    assert api.commit.call_args.kwargs["timeout"] == TIMEOUT
    assert request["database"] == DATABASE
    assert request["transaction"] is None
    (w,) = request["writes"]
    assert w.update.name == f"{DOCS}/products/p1"
    assert "update_mask" not in w  # a set replaces the document
    assert not w.update_transforms
    fields = w.update.fields
    assert doubles(fields["embedding"]) == [0.25, -1.0, 3.0]
    assert fields["embedding_model"].string_value == "gemini-embedding-001"
    assert fields["updated_at"]._pb.timestamp_value.seconds == int(when.timestamp())
    assert fields["updated_at"]._pb.timestamp_value.nanos == 678901000
    decoded = _helpers.decode_dict(fields, None)
    del decoded["embedding"]
    assert decoded == {
        "name": "Mug",
        "price": 12,
        "ratio": 0.5,
        "ok": True,
        "none": None,
        "tags": ["a", "b"],
        "attrs": {"color": "red"},
        "updated_at": when,
        "embedding_model": "gemini-embedding-001",
    }


def test_merge_sends_a_mask_and_increment_transforms(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    store.merge(
        "metrics_minutes",
        "m",
        {
            "counters": {"turns": Increment(1), "by_intent": {"PRODUCT_RAG": Increment(2)}},
            "latency": Increment(2.5),
            "label": "x",
            "nested": {"a": 1},
        },
    )
    (w,) = only_request(api.commit)["writes"]
    assert sorted(w.update_mask.field_paths) == ["label", "nested.a"]
    transforms = {t.field_path: t.increment for t in w.update_transforms}
    assert set(transforms) == {"counters.turns", "counters.by_intent.PRODUCT_RAG", "latency"}
    assert transforms["counters.turns"]._pb.integer_value == 1
    assert transforms["counters.by_intent.PRODUCT_RAG"]._pb.integer_value == 2
    assert transforms["latency"]._pb.double_value == 2.5


def test_set_with_increment_replaces_then_increments(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    store.set("counters", "c", {"n": Increment(3)})
    (w,) = only_request(api.commit)["writes"]
    assert "update_mask" not in w
    assert [(t.field_path, t.increment._pb.integer_value) for t in w.update_transforms] == [
        ("n", 3)
    ]


def test_delete_request(store: FirestoreStore, api: mock.NonCallableMagicMock) -> None:
    store.delete("sessions/s1/messages", "m1")
    (w,) = only_request(api.commit)["writes"]
    assert w.delete == f"{DOCS}/sessions/s1/messages/m1"


def test_write_batch_splits_into_commits_of_at_most_500(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    writes = [Write("set", "inventory", f"i{i:04d}", {"q": i}) for i in range(1_200)]
    writes += [
        Write("merge", "inventory", "i0000", {"q": Increment(1)}),
        Write("delete", "inventory", "i0001"),
        Write("delete", "inventory", "i0002"),
    ]
    assert store.write_batch(writes) == 1_203
    requests = [request_of(c) for c in api.commit.call_args_list]
    assert [len(r["writes"]) for r in requests] == [500, 500, 203]
    assert all(r["transaction"] is None for r in requests)
    assert all(c.kwargs["timeout"] == TIMEOUT for c in api.commit.call_args_list)
    names = [w.update.name for r in requests for w in r["writes"] if "update" in w]
    assert names[:1_200] == [f"{DOCS}/inventory/i{i:04d}" for i in range(1_200)]
    tail = requests[2]["writes"][-3:]
    assert tail[0].update_transforms[0].field_path == "q"
    assert [tail[1].delete, tail[2].delete] == [
        f"{DOCS}/inventory/i0001",
        f"{DOCS}/inventory/i0002",
    ]


# --- transactions


def test_transaction_begins_reads_in_it_and_commits_its_writes(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.begin_transaction.return_value = fs.BeginTransactionResponse(transaction=b"txn-1")
    api.batch_get_documents.side_effect = [
        found("counters/n", {"value": 41}),
        missing("counters/m"),
    ]

    def bump(t: Any) -> int:
        value = int(t.get("counters", "n")["value"])
        assert t.get("counters", "m") is None
        t.set("counters", "n", {"value": value + 1})
        t.merge("counters", "m", {"hits": Increment(1)})
        t.delete("counters", "old")
        return value

    assert store.transaction(bump) == 41
    assert [c[0] for c in api.mock_calls] == [
        "begin_transaction",
        "batch_get_documents",
        "batch_get_documents",
        "commit",
    ]
    begin = only_request(api.begin_transaction)
    assert begin == {"database": DATABASE, "options": None}
    reads = [request_of(c) for c in api.batch_get_documents.call_args_list]
    assert [r["transaction"] for r in reads] == [b"txn-1", b"txn-1"]
    assert [r["documents"] for r in reads] == [[f"{DOCS}/counters/n"], [f"{DOCS}/counters/m"]]
    commit = only_request(api.commit)
    assert commit["transaction"] == b"txn-1"
    w_set, w_merge, w_delete = commit["writes"]
    assert w_set.update.name == f"{DOCS}/counters/n"
    assert w_set.update.fields["value"].integer_value == 42
    assert w_merge.update_transforms[0].field_path == "hits"
    assert w_delete.delete == f"{DOCS}/counters/old"
    api.rollback.assert_not_called()


def test_create_is_a_transaction_that_writes_only_if_absent(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.begin_transaction.return_value = fs.BeginTransactionResponse(transaction=b"t")
    api.batch_get_documents.side_effect = [
        missing("events/e1"),
        found("events/e1", {"n": 1}),
        found("events/e1", {"n": 1, EXPIRES_AT: NOW}),  # expired: counts as absent
    ]
    assert store.create("events", "e1", {"n": 2}) is True
    assert store.create("events", "e1", {"n": 3}) is False
    assert store.create("events", "e1", {"n": 4}) is True
    written = [
        [w.update.fields["n"].integer_value for w in request_of(c)["writes"]]
        for c in api.commit.call_args_list
    ]
    assert written == [[2], [], [4]]


def test_an_exception_in_a_transaction_rolls_back_and_commits_nothing(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.begin_transaction.return_value = fs.BeginTransactionResponse(transaction=b"txn-9")
    api.batch_get_documents.return_value = missing("c/a")

    def fn(t: Any) -> None:
        t.get("c", "a")
        t.set("c", "a", {"x": 1})
        raise KeyError("boom")

    with pytest.raises(KeyError):
        store.transaction(fn)
    api.commit.assert_not_called()
    assert only_request(api.rollback) == {"database": DATABASE, "transaction": b"txn-9"}


def test_read_after_write_in_a_transaction(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.begin_transaction.return_value = fs.BeginTransactionResponse(transaction=b"t")

    def fn(t: Any) -> None:
        t.set("c", "a", {"x": 1})
        t.get("c", "a")

    with pytest.raises(ReadAfterWriteError):
        store.transaction(fn)
    api.batch_get_documents.assert_not_called()
    api.commit.assert_not_called()
    api.rollback.assert_called_once()


def test_a_contended_transaction_backs_off_then_fails(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    n = firestore_store.TXN_ATTEMPTS
    api.begin_transaction.side_effect = [
        fs.BeginTransactionResponse(transaction=f"t{i}".encode()) for i in range(n)
    ]
    api.commit.side_effect = gexc.Aborted("contention")
    waits: list[float] = []
    store._sleep = waits.append
    calls = []
    with pytest.raises(TransactionFailed, match=f"lost {n} attempts"):
        store.transaction(lambda t: calls.append(t.set("c", "a", {"x": 1})))
    assert len(calls) == n
    assert [request_of(c)["transaction"] for c in api.commit.call_args_list] == [
        f"t{i}".encode() for i in range(n)
    ]
    # A random wait under a bound that doubles up to the cap, between attempts only.
    assert len(waits) == n - 1
    bounds = [
        min(firestore_store.TXN_BACKOFF_CAP_S, firestore_store.TXN_BACKOFF_S * 2**i)
        for i in range(n - 1)
    ]
    assert all(0 <= w <= bound for w, bound in zip(waits, bounds, strict=True))
    assert len(set(waits)) > 1


def test_a_transaction_that_wins_on_retry_returns(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.begin_transaction.side_effect = [
        fs.BeginTransactionResponse(transaction=b"t0"),
        fs.BeginTransactionResponse(transaction=b"t1"),
    ]
    api.commit.side_effect = [gexc.Aborted("contention"), commit_response(1)]
    waits: list[float] = []
    store._sleep = waits.append
    assert store.transaction(lambda t: t.set("c", "a", {"x": 1})) is None
    assert api.commit.call_count == 2
    assert len(waits) == 1


# --- error translation


def _nearest(store: FirestoreStore) -> Any:
    return store.nearest("c", field="e", query=Embedding([1.0], "m"), k=1)


OPERATIONS = {
    "query": ("run_query", lambda s: s.query("c", limit=1)),
    "nearest": ("run_query", _nearest),
    "get": ("batch_get_documents", lambda s: s.get("c", "a")),
    "set": ("commit", lambda s: s.set("c", "a", {"x": 1})),
    "write_batch": ("commit", lambda s: s.write_batch([Write("delete", "c", "a")])),
    "ping": ("batch_get_documents", lambda s: s.ping()),
    "transaction-begin": ("begin_transaction", lambda s: s.create("c", "a", {"x": 1})),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        (gexc.ServiceUnavailable, StoreUnavailable),
        (gexc.DeadlineExceeded, StoreUnavailable),
        (gexc.InternalServerError, StoreUnavailable),
        (gexc.InvalidArgument, StoreError),
        (gexc.FailedPrecondition, StoreError),
        (gexc.PermissionDenied, StoreError),
    ],
    ids=lambda v: v.__name__,
)
def test_rpc_errors_are_translated(
    store: FirestoreStore,
    api: mock.NonCallableMagicMock,
    operation: str,
    error_type: type[gexc.GoogleAPICallError],
    expected: type[Exception],
) -> None:
    method, run = OPERATIONS[operation]
    error = error_type("injected")
    getattr(api, method).side_effect = error
    with pytest.raises(expected) as caught:
        run(store)
    if expected is StoreError:
        assert not isinstance(caught.value, StoreUnavailable)
    assert caught.value.__cause__ is error


def test_rpc_errors_inside_a_transaction_roll_back_and_are_translated(
    store: FirestoreStore, api: mock.NonCallableMagicMock
) -> None:
    api.begin_transaction.return_value = fs.BeginTransactionResponse(transaction=b"t")
    api.batch_get_documents.side_effect = gexc.ServiceUnavailable("down")
    with pytest.raises(StoreUnavailable):
        store.create("c", "a", {"x": 1})
    assert only_request(api.rollback)["transaction"] == b"t"
    api.commit.assert_not_called()
