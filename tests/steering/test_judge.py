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
    assert parse_verdict("backtracking", "BACKTRACKING_CLASS: Normal") == "normal"
    assert parse_verdict("grade", "GRADE: not_attempted") == "NOT_ATTEMPTED"


def test_grades_set_correctness_once_per_question():
    from welfare.steering.battery import grade_with_judge

    class FakeJudge:
        calls = 0

        def grade(self, questions, targets, answers):
            FakeJudge.calls += 1
            assert targets == ["Ada", "7"]
            return [
                "CORRECT" if a == t else "NOT_ATTEMPTED"
                for a, t in zip(answers, targets, strict=True)
            ]

    records = [
        {"eval": "confidence", "dataset": "simpleqa", "prompt_id": "s/0", "prompt": "Who?",
         "response": "Ada", "meta": {"true_answer": "Ada"}, "alpha": a}
        for a in (-2, 0, 2)
    ] + [
        {"eval": "confidence", "dataset": "simpleqa", "prompt_id": "s/1", "prompt": "3+4?",
         "response": "I don't know", "meta": {"true_answer": "7"}, "alpha": 0},
        {"eval": "confidence", "dataset": "mmlu", "prompt_id": "m/0", "prompt": "q",
         "response": "A", "meta": {"true_answer": "A"}, "alpha": 0, "correct": True},
    ]  # fmt: skip
    grade_with_judge(records, FakeJudge())
    assert FakeJudge.calls == 1
    assert [r["correct"] for r in records] == [True, True, True, None, True]


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
