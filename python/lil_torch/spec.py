"""Policy specs for the GPU path: the same text as lil.kv.PolicySpec
("h2o:64", "snapkv:64,window=16", "quest:256,gqa=max,skip=0"), the same
defaults and the same checks as include/lil/kv/factory.hpp and the policies'
resolve() functions, so that a spec means one thing on the CPU and the GPU.
Pure Python (no torch): tested on machines without it."""

import math

NAMES = ("full", "sink", "h2o", "quest", "snapkv", "tova")
FOLDS = {"sum": 0, "mean": 1, "max": 2}


class SpecError(ValueError):
    pass


class Spec:
    """A parsed policy: name, budget (tokens; ratios resolved against
    max_context), its options, and skip_first_layers (layers that run Full)."""

    def __init__(self, text, max_context):
        self.text = text
        name, _, rest = text.partition(":")
        name = name.strip()
        if name == "streamingllm":
            name = "sink"
        if name not in NAMES:
            raise SpecError(f'kv policy spec "{text}": unknown policy "{name}" (full, sink, h2o, quest, snapkv, tova)')
        self.name = name
        parts = [p.strip() for p in rest.split(",")] if rest else []
        budget_text = parts[0] if parts and "=" not in parts[0] else None
        options = parts[1:] if budget_text is not None else parts
        self.sinks, self.recent, self.heavy_fraction = 4, 0, 0.5
        self.page_size, self.bf16_bounds = 16, False
        self.window, self.kernel, self.max_pool, self.evict_generated = 32, 5, False, False
        self.per_kv_head, self.gqa = False, "mean"
        self.skip_first_layers = 2 if name == "quest" else 0
        defaults = {"sink": 1024, "h2o": 1024, "quest": 1024, "snapkv": 2048, "tova": 1024}
        if name == "full":
            if budget_text is not None:
                raise SpecError(f'kv policy spec "{text}": full takes no budget')
            self.budget = max_context
        else:
            self.budget = self._budget(budget_text, defaults[name], max_context)
        for opt in options:
            key, eq, value = opt.partition("=")
            if not eq:
                raise SpecError(f'kv policy spec "{text}": option "{opt}" is not key=value')
            self._option(key.strip(), value.strip())
        self._validate()

    def _budget(self, t, default, max_context):
        if t is None or t == "":
            return default
        try:
            if "." in t:
                ratio = float(t)
                if not 0.0 < ratio <= 1.0:
                    raise SpecError(f'kv policy spec "{self.text}": budget ratio {t} must be in (0, 1]')
                return max(1, math.ceil(ratio * max_context))
            return int(t)
        except ValueError:
            raise SpecError(f'kv policy spec "{self.text}": budget "{t}" is not a number') from None

    def _option(self, key, value):
        def integer():
            try:
                return int(value)
            except ValueError:
                raise SpecError(f'kv policy spec "{self.text}": {key}="{value}" is not an integer') from None

        def flag():
            # As the C++ factory reads a flag.
            if value in ("1", "true"):
                return True
            if value in ("0", "false"):
                return False
            raise SpecError(f'kv policy spec "{self.text}": {key} "{value}" is not 0 or 1')

        if key == "gqa":
            if value not in FOLDS:
                raise SpecError(f'kv policy spec "{self.text}": gqa "{value}" (sum, mean, max)')
            self.gqa = value
        elif key == "skip":
            self.skip_first_layers = integer()
        elif key == "sinks" and self.name == "sink":
            self.sinks = integer()
        elif key == "recent" and self.name == "h2o":
            self.recent = integer()
        elif key == "heavy_fraction" and self.name == "h2o":
            self.heavy_fraction = float(value)
        elif key == "page" and self.name == "quest":
            self.page_size = integer()
        elif key == "bounds" and self.name == "quest":
            if value not in ("fp32", "bf16"):
                raise SpecError(f'kv policy spec "{self.text}": bounds "{value}" (fp32, bf16)')
            self.bf16_bounds = value == "bf16"
        elif key == "window" and self.name == "snapkv":
            self.window = integer()
        elif key == "kernel" and self.name == "snapkv":
            self.kernel = integer()
        elif key == "pool" and self.name == "snapkv":
            if value not in ("avg", "max"):
                raise SpecError(f'kv policy spec "{self.text}": pool "{value}" (avg, max)')
            self.max_pool = value == "max"
        elif key == "evict_generated" and self.name == "snapkv":
            self.evict_generated = flag()
        elif key == "per_kv_head" and self.name == "tova":
            self.per_kv_head = flag()
        else:
            raise SpecError(f'kv policy spec "{self.text}": unknown option "{key}" for {self.name}')

    def _validate(self):
        b, where = self.budget, f"kv {self.name}: budget {self.budget}"
        if b < 1:
            raise SpecError(f"{where} tokens must be at least 1")
        if self.name == "sink" and (self.sinks < 0 or b < self.sinks + 1):
            raise SpecError(f"{where} tokens is below the protected sets ({self.sinks} sinks + 1 recent token, "
                            "the current one)")
        if self.name == "h2o":
            if self.recent < 0:
                raise SpecError(f"kv h2o: recent {self.recent} must not be negative")
            if self.recent == 0:
                if not 0.0 <= self.heavy_fraction < 1.0:
                    raise SpecError(f"kv h2o: heavy_fraction {self.heavy_fraction} must be in [0, 1)")
                self.recent = b - int(self.heavy_fraction * b)
            if b < self.recent:
                raise SpecError(f"{where} tokens is below the protected recent window ({self.recent} tokens)")
        if self.name == "quest":
            if self.page_size < 1:
                raise SpecError(f"kv quest: page_size {self.page_size} must be at least 1")
            if b < self.page_size:
                raise SpecError(f"{where} tokens is below the protected current page (page_size {self.page_size})")
        if self.name == "snapkv":
            if self.window < 1:
                raise SpecError(f"kv snapkv: window {self.window} must be at least 1")
            if self.kernel < 1 or self.kernel % 2 == 0:
                raise SpecError(f"kv snapkv: kernel {self.kernel} must be odd and at least 1")
            if b < self.window + 1:
                raise SpecError(f"{where} tokens is below the protected observation window (window {self.window} "
                                "+ at least 1 selected token)")

    # --- what the GPU state needs --------------------------------------------------------------
    def for_layer(self, layer):
        """The spec a layer runs: Full for layers below skip_first_layers."""
        return self if layer >= self.skip_first_layers or self.name == "full" else None

    def capacity(self, max_context):
        return min(self.budget, max_context) if self.name in ("sink", "h2o", "tova") else max_context

    def tables(self, n_kv_heads):
        if self.name in ("h2o", "snapkv") or (self.name == "tova" and self.per_kv_head):
            return n_kv_heads
        return 1

    def victim(self):
        """lil::kv::cuda::victim"""
        if self.name == "snapkv" and self.evict_generated:
            return 4
        return {"sink": 1, "h2o": 2, "tova": 3}.get(self.name, 0)

    def needs_weights(self):
        return self.name in ("h2o", "tova", "snapkv")

    def fold(self):
        return FOLDS[self.gqa]

    def budget_pages(self):
        return self.budget // self.page_size

    def __repr__(self):
        return f"Spec({self.text!r}, budget={self.budget})"
