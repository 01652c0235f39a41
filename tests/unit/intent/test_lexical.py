import numpy as np
import pytest

from shared.intent.lexical import Lexical, features

TEXTS = ["is the Ballard shop open sunday", "a light roast from Ethiopia", "hello there"]


def test_features_are_words_and_word_pairs() -> None:
    assert features("Is the Ballard shop open?") == [
        "is",
        "the",
        "ballard",
        "shop",
        "open",
        "is the",
        "the ballard",
        "ballard shop",
        "shop open",
    ]


def test_shared_rare_words_score_and_nothing_shared_scores_zero() -> None:
    lex = Lexical(TEXTS)
    sims = lex.similarities("ballard hours")
    assert sims.argmax() == 0 and sims[1] == sims[2] == 0
    assert np.all(lex.similarities("unknown words only") == 0)


def test_a_text_is_at_cosine_one_from_itself() -> None:
    lex = Lexical(TEXTS)
    assert lex.similarities(TEXTS[1])[1] == pytest.approx(1.0, abs=1e-6)
    assert lex.similarities(TEXTS[0])[0] == pytest.approx(1.0, abs=1e-6)
