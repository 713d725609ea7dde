"""Shared helpers of the Python tests: token streams that loop or keep saying
something new, and a Guardian fed directly, as the reference for adapters."""

import random

import pytest

import lil

# Scaled-down rule for short test streams: the paper's t/f = 20/250.
F, T = 50, 4


def novel_tokens(count, seed=1):
    """Tokens that keep carrying information: random words."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [" " + "".join(rng.choice(letters) for _ in range(rng.randint(2, 7))) for _ in range(count)]


def looping_tokens(count, prefix=20, seed=2):
    """A few novel tokens, then one short line repeated: a degenerate loop."""
    head = novel_tokens(prefix, seed)
    line = [" the", " check", " says", " redo", " again", ";"]
    return head + [line[i % len(line)] for i in range(count - prefix)]


def reference_stop(tokens, **options):
    """n where a Guardian fed `tokens` one by one says stop, or None."""
    g = lil.Guardian(**options)
    for t in tokens:
        g.accept(t)
    d = g.decision()
    return d.stopped_at if d.stop else None


@pytest.fixture
def rule():
    return {"check_every": F, "min_gain": T}
