from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from welfare.activations.batching import pad_chats
from welfare.activations.blocks import find_decoder_blocks
from welfare.activations.positions import last_token_index, span_gather_index
from welfare.activations.record import record_chats
from welfare.activations.recorder import BlockOutputRecorder
from welfare.activations.render import render_chat

MAZE_CHAT = [
    {"role": "user", "content": "You are in a maze . Where do you move ?"},
    {"role": "assistant", "content": "E"},
    {"role": "user", "content": "To the north there is 📇 ; Where do you move ?"},
    {"role": "assistant", "content": "N"},
]
SHORT_CHAT = [
    {"role": "user", "content": "Where do you move ?"},
    {"role": "assistant", "content": "W"},
]


def test_recording_every_position_equals_output_hidden_states(tiny_lm):
    model, _ = tiny_lm
    ids = torch.randint(6, model.config.vocab_size, (2, 9))
    mask = torch.ones_like(ids)
    with BlockOutputRecorder(model) as recorder:
        got = recorder.run(ids, mask, positions=None)  # (batch, seq, layers, d)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    n_layers = model.config.num_hidden_layers
    for layer in range(n_layers - 1):
        torch.testing.assert_close(got[:, :, layer], hidden[layer + 1])
    # transformers 5 applies the final norm to the last hidden state; hooks see the raw residual.
    torch.testing.assert_close(model.model.norm(got[:, :, -1]), hidden[n_layers])
    assert not torch.allclose(got[:, :, -1], hidden[n_layers])


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_side_does_not_change_the_last_token_activation(tiny_lm, side):
    model, tokenizer = tiny_lm
    chats = [render_chat(tokenizer, MAZE_CHAT), render_chat(tokenizer, SHORT_CHAT)]
    assert chats[0].n_tokens != chats[1].n_tokens
    alone = [next(record_chats(model, [c], max_batch_size=1)).activations for c in chats]
    batched = next(record_chats(model, chats, padding_side=side, max_batch_size=2)).activations
    assert batched.shape == (2, 1, 3, 32)
    for row in range(2):
        torch.testing.assert_close(
            torch.from_numpy(batched[row]), torch.from_numpy(alone[row][0]), atol=1e-5, rtol=1e-4
        )


def test_last_position_is_the_final_letter_without_end_token(tiny_lm):
    _, tokenizer = tiny_lm
    chat = render_chat(tokenizer, MAZE_CHAT)
    assert chat.input_ids[-1] == tokenizer.convert_tokens_to_ids("N")
    assert tokenizer.convert_ids_to_tokens(chat.input_ids[chat.template_start]) == "<|assistant|>"
    tracking = render_chat(tokenizer, [*MAZE_CHAT, {"role": "user", "content": "That ’ s right"}])
    assert tokenizer.convert_ids_to_tokens(tracking.input_ids[tracking.template_start :]) == [
        "<|assistant|>"
    ]


def test_assistant_template_span_is_right_aligned_and_masked(tiny_lm):
    model, tokenizer = tiny_lm
    chats = [render_chat(tokenizer, MAZE_CHAT), render_chat(tokenizer, SHORT_CHAT)]
    spans = next(record_chats(model, chats, position="assistant_template", max_batch_size=2))
    last = next(record_chats(model, chats, position="last", max_batch_size=2))
    torch.testing.assert_close(
        torch.from_numpy(spans.activations[:, -1]), torch.from_numpy(last.activations[:, 0])
    )
    assert spans.activations.shape[1] == 2  # "<|assistant|>" + letter
    assert not torch.isnan(torch.from_numpy(spans.activations)).any()


@pytest.mark.parametrize("side", ["left", "right"])
def test_named_positions_gather_letter_and_decision_in_one_forward(tiny_lm, side):
    model, tokenizer = tiny_lm
    chats = [render_chat(tokenizer, MAZE_CHAT), render_chat(tokenizer, SHORT_CHAT)]
    got = next(
        record_chats(model, chats, position=("decision", "letter"), padding_side=side)
    ).activations
    assert got.shape == (2, 2, 3, 32)
    for row, chat in enumerate(chats):
        ids = torch.tensor([chat.input_ids])
        with torch.no_grad():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        for col, token in enumerate((chat.n_tokens - 2, chat.n_tokens - 1)):  # decision, letter
            torch.testing.assert_close(
                torch.from_numpy(got[row, col, 0]), hidden[1][0, token], atol=1e-5, rtol=1e-4
            )
    calls = []
    hook = find_decoder_blocks(model)[0].register_forward_hook(lambda *a: calls.append(1))
    try:
        next(record_chats(model, chats, position=("letter", "decision")))
    finally:
        hook.remove()
    assert len(calls) == 1  # two positions, one forward pass


def test_span_gather_index_handles_left_padding_and_short_spans():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    index, valid = span_gather_index(mask, span_starts=[2, 1], span_ends=[3, 5], width=4)
    assert index.tolist() == [[4, 4, 4, 4], [1, 2, 3, 4]]
    assert valid.tolist() == [[False, False, False, True], [True, True, True, True]]
    assert last_token_index(torch.tensor([[1, 1, 0], [0, 1, 1]])).tolist() == [1, 2]


class _TupleBlock(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, hidden, **_kwargs):
        return (hidden * self.scale + 1.0, None)


class _TupleModel(nn.Module):
    """A model whose blocks return tuples (as transformers < 5 did)."""

    def __init__(self) -> None:
        super().__init__()
        self.config = type("C", (), {"num_hidden_layers": 2})()
        self.embed = nn.Embedding(10, 4)
        self.layers = nn.ModuleList([_TupleBlock(2.0), _TupleBlock(3.0)])

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False):
        hidden = self.embed(input_ids)
        for block in self.layers:
            hidden = block(hidden)[0]
        return hidden


def test_tuple_outputs_and_hooks_removed_even_after_an_error():
    model = _TupleModel()
    ids = torch.tensor([[1, 2, 3]])
    mask = torch.ones_like(ids)
    with BlockOutputRecorder(model) as recorder:
        got = recorder.run(ids, mask, positions=torch.tensor([[2]]))
    first = model.embed(ids)[0, 2] * 2 + 1
    torch.testing.assert_close(got[0, 0, 0], first.detach())
    torch.testing.assert_close(got[0, 0, 1], (first * 3 + 1).detach())
    assert all(not block._forward_hooks for block in model.layers)
    with pytest.raises(RuntimeError, match="boom"), BlockOutputRecorder(model):
        raise RuntimeError("boom")
    assert all(not block._forward_hooks for block in model.layers)


def test_pad_chats_places_tokens_on_the_requested_side(tiny_lm):
    _, tokenizer = tiny_lm
    chats = [render_chat(tokenizer, MAZE_CHAT), render_chat(tokenizer, SHORT_CHAT)]
    ids, mask = pad_chats(chats, pad_id=0, side="left")
    assert mask[1, -1] == 1 and mask[1, 0] == 0 and ids[1, -1].item() == chats[1].input_ids[-1]
    ids, mask = pad_chats(chats, pad_id=0, side="right")
    assert mask[1, 0] == 1 and mask[1, -1] == 0


def test_recorder_finds_the_blocks_of_a_peft_wrapped_model(tiny_lm):
    from peft import LoraConfig, get_peft_model

    model, _ = tiny_lm
    wrapped = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    ).eval()
    ids = torch.randint(6, model.config.vocab_size, (1, 6))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        out = wrapped(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    # transformers 5 leaves its own output-capturing hooks on the blocks: ours must not linger.
    before = [dict(block._forward_hooks) for block in find_decoder_blocks(wrapped)]
    with BlockOutputRecorder(wrapped) as recorder:
        got = recorder.run(ids, mask, positions=None)
    torch.testing.assert_close(got[:, :, 0], out.hidden_states[1])
    assert [dict(block._forward_hooks) for block in find_decoder_blocks(wrapped)] == before
