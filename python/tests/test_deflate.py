"""The DEFLATE engine: exact sizes against zlib (Python's zlib module) and the
gzip binary, incremental sizes against sizes from scratch."""

import shutil
import subprocess
import zlib

import pytest

import lil
from conftest import looping_tokens, novel_tokens

TEXT = ("".join(novel_tokens(3000)) + "".join(looping_tokens(2000))).encode()


@pytest.mark.parametrize("level", range(1, 10))
def test_zlib_profile_matches_python_zlib(level):
    data = TEXT[: 20000 + 3000 * level]
    assert lil.compress(data, level, "zlib", "zlib") == zlib.compress(data, level)
    raw = zlib.compressobj(level, zlib.DEFLATED, -15)
    assert lil.deflate_size(data, level, "zlib") == len(raw.compress(data) + raw.flush())


@pytest.mark.skipif(shutil.which("gzip") is None, reason="no gzip binary")
@pytest.mark.parametrize("level", [1, 6, 9])
def test_gzip_profile_matches_gzip_n(level):
    data = TEXT[:50000]
    expected = subprocess.run(["gzip", "-n", f"-{level}"], input=data, capture_output=True, check=True).stdout
    assert lil.compress(data, level, "gzip", "gzip") == expected
    assert lil.deflate_size(data, level) == len(lil.compress(data, level, "gzip", "raw"))


def test_size_if_finished_equals_the_size_from_scratch_at_every_point():
    c = lil.Compressor(level=6, profile="gzip", keep_output=False)
    fed = 0
    for chunk in range(1, 40):
        piece = TEXT[fed: fed + 97 * chunk]
        c.feed(piece)
        fed += len(piece)
        assert c.size_if_finished() == lil.deflate_size(TEXT[:fed])
    assert c.bytes_in == fed and c.output() == b""


def test_streamed_output_is_the_whole_buffer_compression():
    c = lil.Compressor(level=9, profile="zlib")
    out = b""
    for k in range(0, len(TEXT), 4096):
        c.feed(TEXT[k:k + 4096])
        out += c.take_output()
    c.finish()
    out += c.take_output()
    assert c.finished and out == lil.compress(TEXT, 9, "zlib", "raw")
    assert zlib.decompress(out, -15) == TEXT


def test_a_cloned_compressor_is_an_independent_fork():
    c = lil.Compressor(keep_output=False)
    c.feed(TEXT[:5000])
    fork = c.clone()
    fork.feed(b"x" * 3000)
    c.feed(TEXT[5000:8000])
    assert c.size_if_finished() == lil.deflate_size(TEXT[:8000])
    assert fork.size_if_finished() == lil.deflate_size(TEXT[:5000] + b"x" * 3000)
    c.reset()
    assert c.bytes_in == 0 and c.size_if_finished() == lil.deflate_size(b"")


def test_str_is_measured_as_utf8():
    s = "naïve café 日本語 " * 50
    assert lil.deflate_size(s) == lil.deflate_size(s.encode("utf-8"))
    assert lil.Compressor(level=3).level == 3 and lil.Compressor(profile="zlib").profile == "zlib"
