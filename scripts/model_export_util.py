"""Shared helpers for the model training scripts: determinism and
reproducible TorchScript export.

Two things make the bytes of a saved TorchScript file vary between runs that
train identical weights:

* TorchScript keeps a module's constants (e.g. Linear's in_features and
  out_features) in a Python set, so their order in the saved code follows
  string hashing, which Python randomizes per process. `reexec_with_fixed_hash_seed`
  restarts the script with PYTHONHASHSEED=0.
* The saved debug info (*.debug_pkl) names the source file of each scripted
  class by its absolute path, i.e. the checkout location.
  `repo_relative_source_paths` records files under the repository as paths
  relative to its root instead.
"""

import os
import random
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reexec_with_fixed_hash_seed():
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def set_determinism(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def repo_relative_source_paths():
    import torch._sources
    import torch._jit_internal
    import torch.jit.annotations
    import torch.jit.frontend

    original = torch._sources.get_source_lines_and_file
    if getattr(original, "_repo_relative", False):
        return

    def patched(obj, error_msg=None):
        lines, lineno, filename = original(obj, error_msg)
        if filename:
            absolute = os.path.abspath(filename)
            if absolute.startswith(REPO + os.sep):
                filename = os.path.relpath(absolute, REPO)
        return lines, lineno, filename

    patched._repo_relative = True
    for mod in (torch._sources, torch._jit_internal, torch.jit.annotations,
                torch.jit.frontend):
        if getattr(mod, "get_source_lines_and_file", None) is original:
            mod.get_source_lines_and_file = patched


def script_and_save(model, path):
    """torch.jit.script `model` (in eval mode) and save it to `path`."""
    repo_relative_source_paths()
    model.eval()
    scripted = torch.jit.script(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scripted.save(path)
    return scripted
