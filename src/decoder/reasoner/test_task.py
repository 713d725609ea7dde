"""Properties of the reasoner's task and its training encoding.

  /usr/bin/python3 -m pytest src/decoder/reasoner/test_task.py   (needs no torch)
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import llama2c_format  # noqa: E402
import task  # noqa: E402


def text_of(tokens):
    return "".join(task.PIECES[t].decode() for t in tokens)


def test_every_trace_ends_with_the_right_answer_after_a_passing_check():
    rng = random.Random(7)
    for _ in range(500):
        prompt, chain = task.make_problem(rng)
        trace = "".join(t for t, _ in task.make_trace(chain, rng, mistake_rate=0.5))
        last_attempt = trace.split("redo\n")[-1]
        assert trace.endswith("ans=%d\n" % chain[-1][4])
        assert " no\n" not in last_attempt
        assert last_attempt.count(" ok") == len(chain)


def test_every_failed_attempt_is_caught_by_its_check_and_redone():
    rng = random.Random(8)
    for _ in range(500):
        _, chain = task.make_problem(rng)
        trace = "".join(t for t, _ in task.make_trace(chain, rng, mistake_rate=0.7))
        attempts = trace.split("redo\n")
        for failed in attempts[:-1]:
            assert failed.endswith(" no\n")


def test_the_loss_skips_exactly_the_injected_mistakes():
    rng = random.Random(9)
    for _ in range(300):
        tokens, mask = task.make_example(rng, mistake_rate=0.6)
        text = text_of(tokens[1:])
        prompt_end = text.index("\n?") + 4  # "\n?X\n"
        assert not any(mask[1:prompt_end + 1])  # BOS, prompt: no loss
        skipped = [i for i, m in enumerate(mask) if not m and i > prompt_end + 1]
        redos = text.count("redo")
        # One mistake per failed attempt: a wrong digit (one token) or a wrong operator and digit.
        assert redos <= len(skipped) <= 2 * redos
        last_redo = text.rfind("redo")
        assert all(i - 1 < last_redo for i in skipped)
        assert tokens[-1] == task.EOS and mask[-1] == 1


def test_the_prompt_holds_the_chain_among_distractors():
    rng = random.Random(10)
    for _ in range(300):
        prompt, chain = task.make_problem(rng)
        statements = prompt.split("\n")[0].split(";")
        assert 8 <= len(statements) <= 16
        assert 2 <= len(chain) <= 6
        for name, parent, op, k, _ in chain:
            assert task.statement(name, (parent, op, k)) in statements
        assert prompt.endswith("\n?%s\n" % chain[-1][0])


def test_training_encoding_equals_the_llama2c_encoder_the_decoder_uses():
    rng = random.Random(11)
    scores = [0.0] * len(task.PIECES)
    for _ in range(50):
        tokens, _ = task.make_example(rng)
        text = text_of(tokens[1:-1])[1:]  # without BOS, the dummy-prefix space and EOS
        assert llama2c_format.encode(task.PIECES, scores, text, bos=True, eos=True) == tokens


def test_evaluation_problems_are_fixed_and_not_from_the_training_streams():
    assert task.eval_problems(20) == task.eval_problems(20)
    eval_prompts = {p for p, _, _ in task.eval_problems(200)}
    train = random.Random(1 * 1000003 + 0)  # batch 0 of train.py's default seed 1
    train_prompts = set()
    for _ in range(256):
        text = text_of(task.make_example(train)[0][1:])[1:]
        train_prompts.add(text[:text.index("\n?") + 4])
    assert len(train_prompts) == 256
    assert not eval_prompts & train_prompts
