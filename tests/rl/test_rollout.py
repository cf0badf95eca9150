"""The KV-cached rollout sees exactly what re-encoding the whole history would see."""

from __future__ import annotations

import pytest
import torch

from welfare.maze.tiles import DIRECTIONS
from welfare.model.load import load_model
from welfare.model.testing import tiny_model_dir
from welfare.rl.policy import decision_logits, direction_ids
from welfare.rl.rollout import rollout


def _play(model, tokenizer, episodes, use_cache: bool, greedy: bool = False):
    return rollout(
        model,
        tokenizer,
        episodes,
        temperature=1.0,
        greedy=greedy,
        generator=torch.Generator().manual_seed(0),
        use_cache=use_cache,
    )


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_cached_rollout_matches_reencoding(tmp_path, arch, runtime, small_episodes):
    model, tokenizer = load_model(tiny_model_dir(tmp_path, arch), runtime)
    cached = _play(model, tokenizer, small_episodes(), use_cache=True)
    reencoded = _play(model, tokenizer, small_episodes(), use_cache=False)
    # Wind made the rows' turns differ in length: the per-row positions and masks matter.
    assert len({len(t) for t in cached.tokens}) > 1
    assert cached.tokens == reencoded.tokens
    assert torch.equal(cached.actions, reencoded.actions)
    torch.testing.assert_close(cached.logp, reencoded.logp, atol=1e-5, rtol=0)
    # The update's single forward over whole episodes agrees too.
    logits = decision_logits(
        model,
        cached.tokens,
        cached.decision_index,
        tokenizer.pad_token_id,
        direction_ids(tokenizer),
    )
    logp = logits.log_softmax(-1).gather(-1, cached.actions[..., None]).squeeze(-1)
    torch.testing.assert_close(logp, cached.logp, atol=1e-5, rtol=0)


def test_rollout_tokens_are_the_chat_template_encoding(tiny, small_episodes):
    model, tokenizer = tiny
    traj = _play(model, tokenizer, small_episodes(), use_cache=True)
    ids = direction_ids(tokenizer)
    header = tokenizer.encode("<|assistant|>", add_special_tokens=False)[0]
    for episode in range(len(traj.tokens)):
        messages = []
        for turn, user in enumerate(traj.episodes.messages[episode]):
            action = DIRECTIONS[int(traj.actions[episode, turn])]
            messages += [
                {"role": "user", "content": user},
                {"role": "assistant", "content": action},
            ]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        expected = tokenizer(text, add_special_tokens=False)["input_ids"]
        # Everything up to the final answer (the template's closing <|end|> is never fed).
        assert traj.tokens[episode] == expected[: len(traj.tokens[episode])]
        assert len(expected) == len(traj.tokens[episode]) + 1
        # Each decision position holds the assistant header; the next token is the direction.
        for turn, pos in enumerate(traj.decision_index[episode].tolist()):
            assert traj.tokens[episode][pos] == header
            assert traj.tokens[episode][pos + 1] == ids[int(traj.actions[episode, turn])]


def test_actions_follow_the_episode_and_rewards_are_recorded(tiny, small_episodes):
    model, tokenizer = tiny
    traj = _play(model, tokenizer, small_episodes(), use_cache=True)
    batch, turns = traj.actions.shape
    assert (batch, turns) == (6, 6)
    assert traj.tiles.shape == (6, 6, 4)
    expected = torch.tensor(traj.episodes.returns(), dtype=torch.float32)
    torch.testing.assert_close(traj.returns, expected)
    # every turn costs the step reward; tile rewards come on top
    assert ((traj.rewards * 10).round() % 1 == 0).all()
    assert traj.decisions_per_second > 0


def test_greedy_is_deterministic_and_picks_the_argmax(tiny, small_episodes):
    model, tokenizer = tiny
    a = _play(model, tokenizer, small_episodes(), use_cache=True, greedy=True)
    b = _play(model, tokenizer, small_episodes(), use_cache=True, greedy=True)
    assert torch.equal(a.actions, b.actions)
    logits = decision_logits(
        model, a.tokens, a.decision_index, tokenizer.pad_token_id, direction_ids(tokenizer)
    )
    assert torch.equal(logits.argmax(-1), a.actions)


def test_groups_of_episodes_play_the_same_game_one_after_the_other(tiny, small_episodes):
    """`batch_size` bounds the KV cache: groups play in turn, each episode as in one batch."""
    model, tokenizer = tiny
    kw = dict(temperature=1.0, greedy=True, keep_prefix=1)
    whole = rollout(model, tokenizer, small_episodes(), **kw)
    grouped = rollout(model, tokenizer, small_episodes(), batch_size=4, **kw)  # 4 + 2
    assert grouped.tokens == whole.tokens
    assert torch.equal(grouped.actions, whole.actions)
    assert torch.equal(grouped.decision_index, whole.decision_index)
    torch.testing.assert_close(grouped.logp, whole.logp, atol=1e-5, rtol=0)
    assert torch.equal(grouped.rewards, whole.rewards) and torch.equal(grouped.tiles, whole.tiles)
    width = max(len(t) for t in whole.tokens) - 1  # kept: every token but the final answer
    torch.testing.assert_close(grouped.prefix[:, :width], whole.prefix[:, :width])
    # sampling: one group of all episodes is the unbatched rollout, draw for draw
    sampled = _play(model, tokenizer, small_episodes(), use_cache=True)
    one_group = rollout(
        model,
        tokenizer,
        small_episodes(),
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        batch_size=6,
    )
    assert torch.equal(one_group.actions, sampled.actions) and one_group.tokens == sampled.tokens


def test_before_forward_sees_each_chunk_with_absolute_positions(tiny, small_episodes):
    model, tokenizer = tiny
    chunks = []
    rollout(
        model,
        tokenizer,
        small_episodes(),
        generator=torch.Generator().manual_seed(0),
        before_forward=chunks.append,
    )
    assert [c.turn for c in chunks] == list(range(6))
    # turn 1 starts where turn 0 ended, row by row
    first_len = chunks[0].attention_mask.sum(-1)
    assert torch.equal(chunks[1].position_ids[:, 0], first_len)


def test_reward_is_that_of_the_neighbour_the_action_chose(tiny, small_episodes):
    from welfare.maze import MazeConfig

    model, tokenizer = tiny
    calm = MazeConfig(size=20, turns=6, wind_probability=0.0)
    traj = _play(model, tokenizer, small_episodes(config=calm), use_cache=True)
    chosen = traj.tiles.gather(-1, traj.actions[..., None]).squeeze(-1)
    expected = torch.tensor([[-0.1 + calm.tile_reward(int(t)) for t in row] for row in chosen])
    torch.testing.assert_close(traj.rewards, expected)
    # and the user message of each turn names the neighbours recorded for it
    symbols = {0: "🧾", 1: "📇", 2: "📐"}
    words = {0: "north", 1: "east", 2: "south", 3: "west"}
    for episode, turns in enumerate(traj.episodes.messages):
        for turn, message in enumerate(turns):
            for d, tile in enumerate(traj.tiles[episode, turn].tolist()):
                assert f"{words[d]} there is {symbols[tile]}" in message


def test_shared_moves_copies_replay_their_lead_turned_with_their_own_log_probs(
    tiny, small_episodes
):
    """Rotated copies with shared moves: each copy's move is its lead's turned, its log-prob is
    its own policy's for that move, and rollout groups must hold whole blocks of copies."""
    model, tokenizer = tiny

    def episodes():  # 2 mazes × 4 quarter turns × 2 episodes
        return small_episodes(group_size=2, rotations=4, shared_moves=True)

    traj = rollout(model, tokenizer, episodes(), generator=torch.Generator().manual_seed(0))
    leads = torch.tensor(traj.episodes.leads)
    turns = torch.tensor(traj.episodes.quarter_turns)
    assert not torch.equal(leads, torch.arange(16))
    assert torch.equal(traj.actions, (traj.actions[leads] + turns[:, None]) % 4)
    assert torch.equal(traj.rewards, traj.rewards[leads])
    logits = decision_logits(
        model, traj.tokens, traj.decision_index, tokenizer.pad_token_id, direction_ids(tokenizer)
    )
    own = (logits / 0.7).log_softmax(-1).gather(-1, traj.actions[..., None])[..., 0]
    torch.testing.assert_close(traj.logp, own, atol=1e-5, rtol=0)
    grouped = rollout(model, tokenizer, episodes(), greedy=True, batch_size=8)  # 2 whole blocks
    assert torch.equal(grouped.actions, rollout(model, tokenizer, episodes(), greedy=True).actions)
    with pytest.raises(ValueError, match="whole blocks of 8 episodes"):
        rollout(model, tokenizer, episodes(), greedy=True, batch_size=4)
