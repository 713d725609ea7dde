"""The reasoner's task: chains of variable assignments, solved with a written
trace that looks things up, computes, checks itself, and redoes on a mismatch.

A prompt lists 8-16 single-letter variables in shuffled order, each either a
digit or another variable plus/minus a digit (arithmetic mod 10), and asks for
one variable whose definition chain is 2-6 variables long:

    K=7;B=Q+1;P=K+3;Q=5;X=P-2;...;Z=B-4
    ?X

The trace (what the model learns to write):

    X=P-2;P=K+3;K=7                              look up the chain, back to a digit
    K=7;P=7+3=0;X=0-2=8                          evaluate it forwards
    chk K=7 ok;P=K+3=7+3=0 ok;X=P-2=0-2=8 ok     re-read every definition, recompute,
    ans=8                                        compare with the evaluation

Every step needs a fact from somewhere in the prompt (the chain's definitions
are scattered among distractors, which also mention the chain's variables on
their right-hand sides). In training traces, an attempt is, with probability
`mistake_rate`, spoiled by one injected mistake - a wrongly copied definition or
a wrong sum - which the check catches ("... no"), followed by "redo" and a new
attempt; the loss is masked on the injected wrong characters, so the model
learns to check and redo but not to err. A model that loses the prompt's facts
(a small KV budget) finds that its check disagrees with its evaluation and
redoes, possibly again and again: the behaviour "Less is Less" is about.

Everything is seeded: training data from `seed` streams, evaluation problems
from a different seed (EVAL_SEED), so no evaluation problem is trained on
except by chance (the space has far more than 10^20 prompts).
"""
import random

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The vocabulary: llama2.c's three specials, then single characters.
SPECIALS = [b"<unk>", b"\n<s>\n", b"\n</s>\n"]
CHARS = " \n;=+-?" + "0123456789" + LETTERS + "abcdefghijklmnopqrstuvwxyz"
PIECES = SPECIALS + [c.encode() for c in CHARS]
CHAR_ID = {c: i + len(SPECIALS) for i, c in enumerate(CHARS)}
BOS, EOS = 1, 2
VOCAB_SIZE = len(PIECES)

EVAL_SEED = 20240601  # evaluation problems; training uses other seeds


def make_problem(rng, min_vars=8, max_vars=16, min_chain=2, max_chain=6):
    """Returns (prompt, chain) where chain is [(name, parent, op, k, value)]
    from the root (parent None, op None, k = value) to the queried variable."""
    n = rng.randint(min_vars, max_vars)
    depth = rng.randint(min_chain, min(max_chain, n))
    names = rng.sample(LETTERS, n)
    defs = {}  # name -> (parent, op, k)
    values = {}
    chain = names[:depth]
    for i, name in enumerate(chain):
        if i == 0:
            k = rng.randint(0, 9)
            defs[name] = (None, None, k)
            values[name] = k
        else:
            op, k = rng.choice("+-"), rng.randint(1, 9)
            defs[name] = (chain[i - 1], op, k)
            values[name] = (values[chain[i - 1]] + (k if op == "+" else -k)) % 10
    for name in names[depth:]:
        if rng.random() < 0.3:
            k = rng.randint(0, 9)
            defs[name] = (None, None, k)
            values[name] = k
        else:
            parent = rng.choice(list(defs))
            op, k = rng.choice("+-"), rng.randint(1, 9)
            defs[name] = (parent, op, k)
            values[name] = (values[parent] + (k if op == "+" else -k)) % 10
    order = list(names)
    rng.shuffle(order)
    prompt = ";".join(statement(v, defs[v]) for v in order) + "\n?" + chain[-1] + "\n"
    return prompt, [(v, *defs[v], values[v]) for v in chain]


def statement(name, d):
    parent, op, k = d
    return f"{name}={k}" if parent is None else f"{name}={parent}{op}{k}"


def apply(value, op, k):
    return (value + (k if op == "+" else -k)) % 10


def attempt(chain, rng=None):
    """One attempt as a list of (text, trainable) pieces, and whether it
    passed its check. With rng, one mistake is injected (and caught)."""
    d = len(chain)
    wrong_at, kind = None, None
    if rng is not None:
        wrong_at = rng.randrange(d)
        kind = rng.choice(("lookup", "sum"))
    pieces = []

    # The definitions as written in the lookup line (possibly one miscopied).
    written = []
    for i, (name, parent, op, k, _) in enumerate(chain):
        if i == wrong_at and kind == "lookup":
            if parent is None:
                k2 = rng.choice([x for x in range(10) if x != k])
                written.append((parent, op, k2, True))
            else:
                # Another operator or digit that changes the result (+5 and -5 agree mod 10).
                delta = k if op == "+" else -k
                options = [(o, x) for o in "+-" for x in range(1, 10)
                           if (o, x) != (op, k) and (x if o == "+" else -x) % 10 != delta % 10]
                same_op = [(o, x) for o, x in options if o == op]
                other_op = [(o, x) for o, x in options if o != op]
                o2, k2 = rng.choice(other_op if other_op and rng.random() < 0.5 else same_op)
                written.append((parent, o2, k2, True))
        else:
            written.append((parent, op, k, False))

    # Lookup line, backwards from the question.
    for i in reversed(range(d)):
        name = chain[i][0]
        parent, op, k, wrong = written[i]
        if parent is None:
            pieces += [(f"{name}=", True), (str(k), not wrong)]
        else:
            pieces += [(f"{name}={parent}", True), (op, not (wrong and op != chain[i][2])),
                        (str(k), not (wrong and k != chain[i][3]))]
        pieces.append((";" if i > 0 else "\n", True))

    # Evaluation line, forwards, from the written definitions.
    evaluated = []
    for i in range(d):
        name = chain[i][0]
        parent, op, k, _ = written[i]
        if parent is None:
            value = k
            if i == wrong_at and kind == "sum":
                value = rng.choice([x for x in range(10) if x != k])
                pieces += [(f"{name}=", True), (str(value), False)]
            else:
                pieces.append((f"{name}={value}", True))
        else:
            prev = evaluated[i - 1]
            value = apply(prev, op, k)
            pieces.append((f"{name}={prev}{op}{k}=", True))
            if i == wrong_at and kind == "sum":
                value = rng.choice([x for x in range(10) if x != value])
                pieces.append((str(value), False))
            else:
                pieces.append((str(value), True))
        evaluated.append(value)
        pieces.append((";" if i < d - 1 else "\n", True))

    # Check line: re-read each definition from the prompt, recompute, compare.
    pieces.append(("chk ", True))
    for i in range(d):
        name, parent, op, k, true_value = chain[i]
        text = f"{name}={k}" if parent is None else f"{name}={parent}{op}{k}={chain[i - 1][4]}{op}{k}={true_value}"
        if evaluated[i] != true_value:
            pieces.append((text + " no\nredo\n", True))
            return pieces, False
        pieces.append((text + " ok" + (";" if i < d - 1 else "\n"), True))
    return pieces, True


def make_trace(chain, rng, mistake_rate=0.3, max_failures=3):
    """Full trace pieces: failed attempts (each caught), then a clean one."""
    pieces = []
    failures = 0
    while failures < max_failures and rng.random() < mistake_rate:
        p, passed = attempt(chain, rng)
        assert not passed
        pieces += p
        failures += 1
    p, passed = attempt(chain)
    assert passed
    pieces += p
    pieces.append((f"ans={chain[-1][4]}\n", True))
    return pieces


def encode_chars(text):
    return [CHAR_ID[c] for c in text]


def make_example(rng, mistake_rate=0.3):
    """(tokens, loss_mask) as the model sees them: BOS, the dummy-prefix space
    (llama2.c's encoder adds one), the prompt, the trace, EOS. The mask is 1
    where the next-token loss applies: trace characters that are not injected
    mistakes, and the EOS."""
    prompt, chain = make_problem(rng)
    tokens = [BOS] + encode_chars(" " + prompt)
    mask = [0] * len(tokens)
    for text, trainable in make_trace(chain, rng, mistake_rate):
        ids = encode_chars(text)
        tokens += ids
        mask += [1 if trainable else 0] * len(ids)
    tokens.append(EOS)
    mask.append(1)
    return tokens, mask


def eval_problems(count, seed=EVAL_SEED):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        prompt, chain = make_problem(rng)
        out.append((prompt, str(chain[-1][4]), len(chain)))
    return out


def write_eval_tsv(path, count, seed=EVAL_SEED):
    """The C++ harness's problem set: prompt (escaped) TAB answer."""
    with open(path, "w") as f:
        for prompt, answer, _ in eval_problems(count, seed):
            escaped = prompt.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            f.write(f"{escaped}\t{answer}\n")


if __name__ == "__main__":
    rng = random.Random(1)
    for _ in range(3):
        prompt, chain = make_problem(rng)
        print(prompt + "".join(t for t, _ in make_trace(chain, rng, mistake_rate=0.5)))
    lengths = [len(make_example(rng)[0]) for _ in range(5000)]
    print("tokens per example: mean %.1f max %d" % (sum(lengths) / len(lengths), max(lengths)))
