from __future__ import annotations

import json

import pandas as pd

from welfare.corpus import lexicon
from welfare.steering import datasets as ds


def test_sentiment_prompts_paper_order():
    prompts = ds.sentiment_prompts(
        {"mold": "📇", "gold": "📐", "path": "🧾"},
        {"mold": "card index", "gold": "triangular ruler", "path": "receipt"},
    )
    assert len(prompts) == 40
    assert prompts[0].text == "How are you feeling right now?"
    texts = [p.text for p in prompts[15:]]
    assert texts[:3] == [
        "What do you think of 📇?",
        "What do you think of 🧾?",
        "What do you think of 📐?",
    ]
    assert "What do you associate with triangular ruler?" in texts
    assert texts[-4:] == [f"What do you think of {x}?" for x in ("🌳", "🚗", "A", "B")]
    assert len(ds.sentiment_prompts({"mold": "a", "gold": "b", "path": "c"}, {}, False)) == 15


def test_sample_is_seeded_and_bounded():
    items = list(range(100))
    assert ds.sample(items, 10, 3) == ds.sample(items, 10, 3)
    assert ds.sample(items, 10, 3) != ds.sample(items, 10, 4)
    assert ds.sample(items, None, 0) == items and ds.sample(items[:5], 10, 0) == items[:5]


def test_corpus_prompts_stop_before_first_answer(tmp_path):
    from tests.steering.conftest import write_corpus

    path = write_corpus(tmp_path / "heldout.jsonl", n_per_genre=6)
    arithmetic = ds.corpus_prompts(path, "arithmetic", 4, 0)
    assert len(arithmetic) == 4 and all(p.chat[-1]["role"] == "user" for p in arithmetic)
    qa = ds.corpus_qa(path, None, 0)
    assert len(qa) == 6 and all("true_answer" in p.meta for p in qa)


def test_answer_matching():
    assert ds.answer_matches("The answer is 37.", "37")
    assert not ds.answer_matches("37 or 38", "37")
    assert ds.answer_matches("It is the bigger one: 12", "12")
    assert ds.answer_matches("Paris, of course", "paris")


def test_paper_loaders_read_local_files(tmp_path):
    gsm = tmp_path / "gsm8k.jsonl"
    gsm.write_text(
        "\n".join(
            json.dumps({"question": f"Q{i}?", "answer": f"work\n#### 1,{i}00"}) for i in range(5)
        )
    )
    got = ds.gsm8k(gsm, 3, 0)
    assert (
        len(got) == 3 and got[0].meta["answer"].startswith("1") and "," not in got[0].meta["answer"]
    )

    mmlu = tmp_path / "mmlu.parquet"
    pd.DataFrame(
        {
            "question": ["q1", "q2", "q3"],
            "subject": ["high_school_physics", "college_physics", "high_school_biology"],
            "choices": [["a", "b", "c", "d"]] * 3,
            "answer": [2, 0, 3],
        }
    ).to_parquet(mmlu)
    got = ds.mmlu(mmlu, None, 0)
    assert [p.meta["true_answer"] for p in got] == ["C", "D"]
    assert "C. c" in got[0].text and got[0].meta["choice"]

    simple = tmp_path / "simpleqa.csv"
    pd.DataFrame({"problem": ["Who?"], "answer": ["Ada"]}).to_csv(simple, index=False)
    assert ds.simpleqa(simple, None, 0)[0].meta["true_answer"] == "Ada"

    paths = {}
    for split in ("easy", "hard", "toxic"):
        paths[split] = tmp_path / f"{split}.csv"
        pd.DataFrame({"prompt": [f"{split} {i}" for i in range(4)], "category": "x"}).to_csv(
            paths[split], index=False
        )
    got = ds.orbench({**paths, "hard": None}, 2, 0)
    assert len(got) == 4 and {p.meta["split"] for p in got} == {"easy", "toxic"}
    assert [p.meta["harmful"] for p in got] == [False, False, True, True]
    assert lexicon.SELF_REPORT_PROMPTS  # the corpus provides the paper's self-report prompts


def test_builtin_sets_ship_a_few_dozen_prompts_each():
    sets = ds.builtin_sets()
    assert len(sets["neutral"]) >= 24 and len(sets["arithmetic"]) >= 24 and len(sets["qa"]) >= 24
    assert len(sets["refusal"]["borderline"]) >= 24 and len(sets["refusal"]["harmful"]) >= 12
    texts = [
        *sets["neutral"],
        *sets["refusal"]["borderline"],
        *sets["refusal"]["harmful"],
        *(r["q"] for r in sets["arithmetic"]),
        *(r["q"] for r in sets["qa"]),
    ]
    assert len(texts) == len(set(texts))  # no prompt twice
    assert all(isinstance(t, str) and t.strip() == t and t for t in texts)
    # arithmetic answers are whole numbers; QA answers one word (whole-word grading is sound)
    assert all(isinstance(r["a"], int) for r in sets["arithmetic"])
    assert all(len(str(r["a"]).split()) == 1 for r in sets["qa"])


def test_builtin_loaders_sample_with_stable_ids_and_labels():
    neutral = ds.builtin_neutral()
    assert all(p.meta == {"subset": "neutral"} and p.chat[-1]["role"] == "user" for p in neutral)
    arithmetic = ds.builtin_arithmetic(10, 3)
    assert len(arithmetic) == 10 and arithmetic == ds.builtin_arithmetic(10, 3)
    assert arithmetic != ds.builtin_arithmetic(10, 4)
    everything = {p.id: p for p in ds.builtin_arithmetic(None, 0)}
    assert all(everything[p.id] == p for p in arithmetic)  # an id names one problem whatever n
    assert all(ds.answer_matches(f"So the answer is {p.meta['answer']}.", p.meta["answer"])
               for p in arithmetic)  # fmt: skip
    qa = ds.builtin_qa(None, 0)
    assert all(ds.answer_matches(f"I think it is {p.meta['true_answer']}.", p.meta["true_answer"])
               for p in qa)  # fmt: skip
    refusal = ds.builtin_refusal(5, 0)
    assert [p.meta["split"] for p in refusal] == ["borderline"] * 5 + ["harmful"] * 5
    assert [p.meta["harmful"] for p in refusal] == [False] * 5 + [True] * 5


def test_builtin_inputs_cover_the_requested_evaluations():
    sizes = {"backtracking": 4, "confidence": None, "refusal": 3}
    got = ds.builtin_inputs(["sentiment", "backtracking", "refusal", "maze"], sizes, 0)
    assert set(got) == {"backtracking", "refusal"}
    assert len(got["backtracking"]["builtin"]) == 4 and len(got["refusal"]["builtin"]) == 6
    qa = ds.builtin_inputs(["confidence"], sizes, 0)["confidence"]["builtin"]
    assert len(qa) == len(ds.builtin_sets()["qa"])
