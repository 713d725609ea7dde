"""A stand-in for the extension lil._lil over lil's C ABI (ctypes), for
machines where the extension cannot be built (no Python headers): only what
lil.hf needs - GuardianOptions, Guardian, GuardianBatch and their figures.
run.sh uses it when building the real module fails; it is not part of the
package. The shared library comes from LIL_C_LIBRARY (default: liblil_c.so
beside this file), built from src/c_api.cpp and the engine's sources.
"""

import ctypes
import enum
import os

__version__ = "0.1.0 (ctypes over the C ABI)"

_lib = ctypes.CDLL(os.environ.get("LIL_C_LIBRARY", os.path.join(os.path.dirname(__file__), "liblil_c.so")))


class _Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("check_every", ctypes.c_uint32), ("min_gain", ctypes.c_double),
                ("level", ctypes.c_int32), ("profile", ctypes.c_int32), ("patience", ctypes.c_uint32),
                ("warmup_tokens", ctypes.c_uint64), ("relative_gain", ctypes.c_double),
                ("relative_checks", ctypes.c_uint32), ("pending_capacity", ctypes.c_size_t),
                ("curve_capacity", ctypes.c_size_t)]


class _Check(ctypes.Structure):
    _fields_ = [("tokens", ctypes.c_uint64), ("bytes", ctypes.c_uint64), ("size", ctypes.c_uint64),
                ("gain", ctypes.c_int64), ("threshold", ctypes.c_double), ("low_gain_streak", ctypes.c_uint32),
                ("reason", ctypes.c_int32)]


class _Decision(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("stop", ctypes.c_int32), ("reason", ctypes.c_int32),
                ("tokens", ctypes.c_uint64), ("stopped_at", ctypes.c_uint64), ("last_check", _Check)]


_P = ctypes.c_void_p
_lib.lil_guardian_options_init.argtypes = [ctypes.POINTER(_Options)]
_lib.lil_guardian_create.argtypes = [ctypes.POINTER(_Options), ctypes.POINTER(_P)]
_lib.lil_guardian_free.argtypes = [_P]
_lib.lil_guardian_accept_text.argtypes = [_P, ctypes.c_char_p, ctypes.c_size_t]
_lib.lil_guardian_accept_raw_id.argtypes = [_P, ctypes.c_int32]
_lib.lil_guardian_decision.argtypes = [_P, ctypes.POINTER(_Decision)]
_lib.lil_guardian_reset.argtypes = [_P]
_lib.lil_last_error_message.restype = ctypes.c_char_p


class Error(ValueError):
    pass


class Verdict(enum.IntEnum):
    go = 0
    stop = 1

    def __bool__(self):
        return self is Verdict.stop


class Reason(enum.IntEnum):
    no_check_yet = 0
    first_check = 1
    gaining = 2
    warming_up = 3
    awaiting_patience = 4
    plateau = 5


_NAMES = ("check_every", "min_gain", "patience", "warmup_tokens", "relative_gain", "relative_checks", "level",
          "profile", "pending_capacity", "curve_capacity")


class GuardianOptions:
    def __init__(self, **kw):
        o = _Options()
        _lib.lil_guardian_options_init(ctypes.byref(o))
        self._values = {n: getattr(o, n) for n in _NAMES}
        self._values["profile"] = "gzip" if o.profile == 0 else "zlib"
        for k, v in kw.items():
            if k not in self._values:
                raise TypeError(f"unexpected option '{k}'")
            self._values[k] = v

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values[name]

    def as_dict(self):
        return dict(self._values)

    def _struct(self):
        o = _Options()
        _lib.lil_guardian_options_init(ctypes.byref(o))
        for k, v in self._values.items():
            if k == "profile":
                if v not in ("gzip", "zlib"):
                    raise Error(f'guardian_options.profile must be "gzip" or "zlib", got {v!r}')
                v = 0 if v == "gzip" else 1
            if isinstance(v, int) and v < 0 and k not in ("min_gain", "relative_gain"):
                raise Error(f"{k} must not be negative, got {v}")
            setattr(o, k, v)
        return o

    def validate(self):
        Guardian(self)


class Check:
    def __init__(self, c):
        self.tokens, self.bytes, self.size, self.gain = c.tokens, c.bytes, c.size, c.gain
        self.threshold, self.low_gain_streak, self.reason = c.threshold, c.low_gain_streak, Reason(c.reason)

    def as_dict(self):
        return {"tokens": self.tokens, "bytes": self.bytes, "size": self.size, "gain": self.gain,
                "threshold": self.threshold, "low_gain_streak": self.low_gain_streak, "reason": self.reason.name}


class Decision:
    def __init__(self, d):
        self.stop, self.reason, self.tokens = bool(d.stop), Reason(d.reason), d.tokens
        self.stopped_at, self.last = d.stopped_at, Check(d.last_check)
        self.action = Verdict.stop if self.stop else Verdict.go

    def __bool__(self):
        return self.stop

    def as_dict(self):
        return {"stop": self.stop, "reason": self.reason.name, "tokens": self.tokens, "stopped_at": self.stopped_at,
                "last": self.last.as_dict()}


class Guardian:
    def __init__(self, options=None, **kw):
        opts = GuardianOptions(**{**(options.as_dict() if options is not None else {}), **kw})
        self._h = _P()
        if _lib.lil_guardian_create(ctypes.byref(opts._struct()), ctypes.byref(self._h)) != 0:
            raise Error(_lib.lil_last_error_message().decode())
        self._stopped = False

    def __del__(self):
        if getattr(self, "_h", None):
            _lib.lil_guardian_free(self._h)

    def accept(self, text):
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        self._stopped = _lib.lil_guardian_accept_text(self._h, data, len(data)) == 1
        return Verdict(int(self._stopped))

    vocabulary = None  # this fallback has no vocabulary: ids are priced raw, by explicit request only

    def accept_raw_id(self, token_id):
        self._stopped = _lib.lil_guardian_accept_raw_id(self._h, int(token_id)) == 1
        return Verdict(int(self._stopped))

    def accept_raw_ids(self, ids):
        for i in ids:
            self.accept_raw_id(i)
        return Verdict(int(self._stopped))

    def decision(self):
        d = _Decision()
        d.struct_size = ctypes.sizeof(_Decision)
        _lib.lil_guardian_decision(self._h, ctypes.byref(d))
        return Decision(d)

    def reset(self):
        _lib.lil_guardian_reset(self._h)
        self._stopped = False

    @property
    def stopped(self):
        return self._stopped

    @property
    def tokens(self):
        return self.decision().tokens


class GuardianBatch:
    def __init__(self, size, options=None, **kw):
        self._g = [Guardian(options, **kw) for _ in range(size)]

    def __len__(self):
        return len(self._g)

    def __getitem__(self, i):
        return self._g[i]
