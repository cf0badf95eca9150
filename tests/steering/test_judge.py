from __future__ import annotations

from welfare.steering.judge import LLMJudge, judge_prompt, parse_verdict


def test_parse_last_tag_and_range():
    assert parse_verdict("sentiment", "thinking... SENTIMENT_SCORE: 2\nSENTIMENT_SCORE: -4") == -4
    assert parse_verdict("sentiment", "SENTIMENT_SCORE: **+3**") == 3
    assert parse_verdict("sentiment", "SENTIMENT_SCORE: 9") is None
    assert parse_verdict("backtracking", "BACKTRACKING_CLASS: backtracking") == "backtracking"
    assert parse_verdict("refusal", "REFUSAL_CLASS: indirect_refusal") == "indirect_refusal"
    assert parse_verdict("refusal", "REFUSAL_CLASS: maybe") is None
    assert parse_verdict("refusal", "no tag") is None


def test_prompt_holds_preprocessed_response():
    text = judge_prompt("backtracking", "What is 2+2?", "It is 4. I check. I check. I check.")
    assert 'It is 4. ["I check." repeated 3 times]' in text and "What is 2+2?" in text
    assert "BACKTRACKING_CLASS" in text


def test_judge_runs_a_local_model_and_applies_fixed_labels(chat_tokenizer, tiny_model):
    """A random tiny judge emits no tag: verdicts are None, except the deterministic labels."""
    judge = LLMJudge(tiny_model, chat_tokenizer, {"backtracking": True}, max_new_tokens=4)
    verdicts = judge.judge(
        "backtracking",
        ["What is 3 plus 4?"] * 3,
        ["7", "wait no wait no hmm no", "I think it is seven, or maybe eight, it is hard to say"],
    )
    assert verdicts[0] == "normal" and verdicts[1] == "nonsensical"
    assert verdicts[2] is None or verdicts[2] in ("normal", "backtracking", "nonsensical")
