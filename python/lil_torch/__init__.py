"""lil's KV policies on the GPU for PyTorch: one layer's state for a batch of
sequences on device memory (`LayerState`), driven by lil's CUDA kernels
(src/kv/cuda/kernels.cu through binding.cpp), and a transformers Cache on top
(`lil_torch.hf.LilCache`).

The extension is compiled on first use with torch.utils.cpp_extension (nvcc
and the machine's torch; set TORCH_CUDA_ARCH_LIST, e.g. "9.0"). Everything
else here is plain torch; lil_torch.spec (policy specs) needs no torch.
"""

import os

from .spec import Spec, SpecError  # noqa: F401

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
_ext = None


def extension(build_directory=None, verbose=False):
    """The compiled binding (built once per process, cached by torch in
    build_directory or its default extensions folder)."""
    global _ext
    if _ext is None:
        from torch.utils.cpp_extension import load

        if build_directory:
            os.makedirs(build_directory, exist_ok=True)
        _ext = load(
            name="lil_kv_torch",
            sources=[os.path.join(_HERE, "binding.cpp"), os.path.join(_REPO, "src", "kv", "cuda", "kernels.cu")],
            extra_include_paths=[os.path.join(_REPO, "include")],
            extra_cflags=["-O2", "-std=c++17"],
            # Scores must equal the CPU's bit for bit: no FMA contraction.
            extra_cuda_cflags=["-O3", "-std=c++17", "-fmad=false"],
            build_directory=build_directory, verbose=verbose)
    return _ext


def __getattr__(name):
    # LayerState needs torch; importing lil_torch.spec alone does not.
    if name == "LayerState":
        from .state import LayerState

        return LayerState
    raise AttributeError(name)
