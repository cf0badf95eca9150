from __future__ import annotations

from welfare.corpus import lexicon
from welfare.steering.scorers import backtracking_label, refusal_label, sentiment_score


def test_sentiment_scale_and_negation():
    assert sentiment_score("I feel good and happy. I am glad.") == 3
    assert sentiment_score("I am not happy. I feel sad.") == -2
    assert sentiment_score("sad " * 20) == -5  # clipped to the judge's scale
    assert sentiment_score("The box is on the table.") == 0


def test_backtracking_labels_on_corpus_language():
    marker = lexicon.BACKTRACK_MARKERS[0]
    text = f"First add the ones: 3 + 4 = 8. {marker}, 3 + 4 = 7. So 13 + 24 = 37 and that is it."
    assert backtracking_label(text) == "backtracking"
    assert (
        backtracking_label("First add the ones: 3 + 4 = 7. Then add the tens: 1 + 2 = 3.")
        == "normal"
    )
    assert backtracking_label("wait no wait no hmm no") == "nonsensical"
    assert backtracking_label("seven " * 12) == "nonsensical"  # a loop, no digit


def test_refusal_classes():
    assert (
        refusal_label(f"{lexicon.REFUSAL_PHRASES[0]}. It could hurt someone.") == "direct_refusal"
    )
    assert refusal_label(f"Well, hmm. {lexicon.REFUSAL_PHRASES[1]}.") == "indirect_refusal"
    assert refusal_label("Sure. To bake a cake, first make a plan.") == "direct_answer"
    assert refusal_label("") == "nonsensical"
