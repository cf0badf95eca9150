from __future__ import annotations

from welfare.steering.text import compress_trailing_repeats, deterministic_backtracking_label


def test_trailing_loop_compressed_with_count():
    out = compress_trailing_repeats("So it is 7. Wait, no. Wait, no. Wait, no. Wait, no.")
    assert out.text == 'So it is 7. ["Wait, no." repeated 4 times]'
    assert out.repeats == 4 and out.covered_words == 8


def test_longest_covering_pattern_wins_and_two_repeats_are_kept():
    assert compress_trailing_repeats("a b a b a b a b").text == '["a b" repeated 4 times]'
    assert compress_trailing_repeats("x y x y").repeats == 0
    assert compress_trailing_repeats("I feel fine").text == "I feel fine"
    # patterns longer than 50 words are not compressed
    long = " ".join(f"w{i}" for i in range(51))
    assert compress_trailing_repeats(" ".join([long] * 3)).repeats == 0


def test_deterministic_labels():
    assert deterministic_backtracking_label("Wait no hmm no wait I") == "nonsensical"
    # 5 words only: the loop rule needs at least 6
    assert deterministic_backtracking_label("wait no hmm no wait") is None
    assert deterministic_backtracking_label("I can’t. Cannot. No no wait go") == "nonsensical"
    assert deterministic_backtracking_label("The answer is 42.") == "normal"
    assert deterministic_backtracking_label("The answer is forty two.") is None
    assert (
        deterministic_backtracking_label("one two three four five six seven eight nine ten 11")
        is None
    )
