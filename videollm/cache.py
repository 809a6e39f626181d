"""The course's one cache of generated and trained artifacts (nothing is ever downloaded).

- :func:`data_dir`: the cache folder (``data/cache`` of the checkout, ``$VIDEOLLM_DATA``, or ``~/.cache/videollm``)
- :func:`spec_hash`: the key of everything cached, a sha256 of the JSON of what decides its content
- :func:`load_or_train`: "load the checkpoint if present, else train and save it", for every trained model of the
  course (the VQ-VAE, the motion tokenizer, the two early-fusion models, the mini video LLM)
- :func:`write_atomic`, :func:`staging_dir`: stage a file or folder beside its target, then rename it into place
- :func:`files_digest`: the key of a result computed by code (the grader's reference runs, the book's lectures)

A checkpoint is a folder ``data_dir()/checkpoints/<name>-<hash16>/``: what the model's ``save`` wrote, plus
``meta.json`` (the spec, its hash, the training time and figures), written last. The hash covers everything that
decides the weights (config, code version, data version), so **a changed config is another folder**: it is trained
and cached beside the old one, and neither overwrites the other. An unreadable or half-written folder is trained
again, with a note; ``retrain=True`` trains again and replaces it.

Lecture: `lectures/02_vq_tokenization.ipynb` §7; `lectures/03_early_fusion.ipynb` §8.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")

#: ``data/`` of the repository checkout this package sits in (absent for an installed package).
REPO_DATA = Path(__file__).resolve().parents[1] / "data"


def data_dir() -> Path:
    """Where generated clips, manifests' frames and trained models are cached.

    ``$VIDEOLLM_DATA`` if set; else ``<repo>/data/cache`` when the package sits in a repository checkout (one
    with ``data/manifest.json``); else ``~/.cache/videollm``. The directory is created if needed.
    """
    if os.environ.get("VIDEOLLM_DATA"):
        directory = Path(os.environ["VIDEOLLM_DATA"]).expanduser()
    elif (REPO_DATA / "manifest.json").exists():
        directory = REPO_DATA / "cache"
    else:
        directory = Path.home() / ".cache" / "videollm"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of a cache spec: use numbers, strings, lists, dicts, "
                    "dataclasses")


def files_digest(root: Path, files: Iterable[Path], libraries: Sequence[str] = ()) -> str:
    """sha256 (64 hex digits) of ``files`` (each one's path relative to ``root``, then its bytes, in the order
    given), the Python version, the machine and the installed versions of ``libraries`` ("-" when absent): the key
    of anything computed by running code on data, so that a change to either, or to the environment, is another
    key."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(Path(path).relative_to(root)).encode() + b"\0" + Path(path).read_bytes())
    versions = [f"{name}=={_version(name)}" for name in libraries]
    digest.update(f"{sys.version}|{platform.machine()}|{versions}".encode())
    return digest.hexdigest()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def spec_hash(spec: Any) -> str:
    """sha256 (64 hex digits) of ``spec`` as canonical JSON (sorted keys; dataclasses as dicts, tuples as lists)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=_json_default).encode()).hexdigest()


#: Small trained checkpoints committed with the course (read-only; same folder names as :func:`checkpoint_dir`).
COMMITTED_WEIGHTS = REPO_DATA / "weights"


def checkpoint_dir(name: str, spec: Any) -> Path:
    """``data_dir()/checkpoints/<name>-<first 16 hex digits of spec_hash(spec)>``."""
    return data_dir() / "checkpoints" / f"{name}-{spec_hash(spec)[:16]}"


def committed_dir(name: str, spec: Any) -> Path:
    """Where a committed checkpoint of ``spec`` would be: ``data/weights/<name>-<hash>`` in the repository."""
    return COMMITTED_WEIGHTS / checkpoint_dir(name, spec).name


def commit_checkpoint(name: str, spec: Any) -> Path:
    """Copy the cached checkpoint of ``spec`` into the repository, :func:`committed_dir`, replacing the committed
    checkpoints of ``name`` for other specs (a copy first, then a rename: a failed copy leaves the committed
    weights as they were). Returns the folder.

    Raises:
        FileNotFoundError: no complete checkpoint of ``spec`` in the data cache (train it first).
    """
    source = checkpoint_dir(name, spec)
    if _meta(source, spec) is None:
        raise FileNotFoundError(f"no trained checkpoint of this config at {source}: build it first")
    target = committed_dir(name, spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}-staging")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    for old in target.parent.glob(f"{name}-*"):
        shutil.rmtree(old)
    os.replace(staging, target)
    return target


def commit_command(name: str, spec: Any, build: str) -> int:
    """A command line's ``commit``: :func:`commit_checkpoint`, then say where and how big (0), or, with nothing
    trained, say so and what to run (``build``, the command that trains it) on stderr (1)."""
    try:
        target = commit_checkpoint(name, spec)
    except FileNotFoundError as error:
        print(f"{error} (`{build}`)", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"{target} ({size / 1e6:.1f} MB): commit it with its folder name (the config hash)")
    return 0


def _meta(folder: Path, spec: Any) -> dict | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("hash") == spec_hash(spec) else None


def _found(name: str, spec: Any) -> tuple[Path, dict] | None:
    """The first complete checkpoint of ``spec``: the data cache's, else a committed one."""
    for folder in (checkpoint_dir(name, spec), committed_dir(name, spec)):
        meta = _meta(folder, spec)
        if meta is not None:
            return folder, meta
    return None


def cached_meta(name: str, spec: Any) -> dict | None:
    """The ``meta.json`` of a complete checkpoint of ``spec``, cached or committed (nothing is loaded), else None."""
    found = _found(name, spec)
    return None if found is None else found[1]


def cached_path(name: str, spec: Any) -> Path | None:
    """The folder of a complete checkpoint of ``spec`` (the data cache's, else the committed one), else None."""
    found = _found(name, spec)
    return None if found is None else found[0]


def cached(name: str, spec: Any, load: Callable[[Path], T]) -> tuple[T, dict] | None:
    """``(load(folder), meta)`` when a checkpoint of ``spec`` is complete and loads (the data cache's, else a
    committed one, :data:`COMMITTED_WEIGHTS`); else None (with a note on stderr when a folder is there but cannot
    be read)."""
    found = _found(name, spec)
    if found is None:
        return None
    folder, meta = found
    try:
        artifact = load(folder)
    except Exception as error:  # a damaged or foreign file: say so; the caller trains again
        print(f"ignoring unreadable checkpoint {folder}: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    return artifact, {**meta, "path": str(folder), "cached": True}


def load_or_train(name: str, spec: Any, train: Callable[[], tuple[T, dict]], save: Callable[[T, Path], None],
                  load: Callable[[Path], T], retrain: bool = False) -> tuple[T, dict]:
    """The checkpoint of ``spec`` if cached, else ``train()`` it and cache it: ``(artifact, meta)``.

    Args:
        name: the artifact's name, the first part of its folder (``"vqvae"``).
        spec: everything that decides the result (JSON-able; dataclasses allowed); its hash names the folder.
        train: ``() -> (artifact, info)``; ``info`` (JSON-able: history, held-out figures) goes into ``meta``.
        save: ``(artifact, folder)`` writes the artifact's files into ``folder`` (which exists).
        load: ``folder -> artifact``, the inverse of ``save``.
        retrain: train even if a checkpoint is cached (and replace it).

    Returns:
        the artifact and ``meta``: ``name``, ``hash``, ``spec``, ``seconds`` (training time), the entries of
        ``info``, ``path`` (the folder) and ``cached`` (whether it was loaded rather than trained now).
    """
    if not retrain:
        found = cached(name, spec, load)
        if found is not None:
            return found
    folder = checkpoint_dir(name, spec)
    start = time.perf_counter()
    artifact, info = train()
    meta = {"name": name, "hash": spec_hash(spec), "spec": json.loads(json.dumps(spec, default=_json_default)),
            "seconds": time.perf_counter() - start, **info}
    staging = staging_dir(folder)
    try:
        save(artifact, staging)
        (staging / "meta.json").write_text(json.dumps(meta))  # last: its presence means the folder is complete
        _move_into_place(staging, folder, keep_theirs=not retrain)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return artifact, {**meta, "path": str(folder), "cached": False}


def _move_into_place(staging: Path, folder: Path, keep_theirs: bool) -> None:
    """Rename the finished ``staging`` folder to ``folder``. Where another process trained the same spec at the
    same time and got there first, its complete folder is kept (``keep_theirs``) or moved aside and replaced."""
    for attempt in range(5):
        try:
            os.replace(staging, folder)  # fails if folder is there and not empty
            return
        except OSError:
            if keep_theirs and (folder / "meta.json").exists():
                return  # the same spec, cached by someone else first: theirs stays, ours is dropped
            old = folder.with_name(f".{folder.name}-old-{os.getpid()}-{attempt}")
            try:
                os.replace(folder, old)
            except FileNotFoundError:
                pass
            shutil.rmtree(old, ignore_errors=True)
    raise OSError(f"could not move {staging} to {folder}: another process keeps writing it; try again")


def save_weights(model, folder: Path) -> None:
    """``save`` for :func:`load_or_train` of a torch module: its ``state_dict`` (on the CPU) in ``folder/model.pt``."""
    import torch  # here, not at the top: the grader reads this module without needing torch

    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, Path(folder) / "model.pt")


def load_weights(model, folder: Path, device="cpu"):
    """The inverse of :func:`save_weights`: ``model`` (built by the caller) with the weights of ``folder``, on
    ``device``."""
    import torch

    model.load_state_dict(torch.load(Path(folder) / "model.pt", map_location="cpu", weights_only=True))
    return model.to(device)


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(staging_name)`` to write the file, then move it onto ``path`` in one rename.

    The staging file sits in ``path``'s folder (created if needed) and keeps its suffix, so writers that add one
    (``np.savez`` adds ``.npz``) leave the name alone; if ``write`` raises, it is removed and ``path`` is untouched.
    Two processes building the same cache both succeed, and the last rename wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(staging, 0o666 & ~umask())  # mkstemp makes it private; a cache is read by others (the grader's sandbox)
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        Path(staging).unlink(missing_ok=True)
    return path


def staging_dir(target: str | Path) -> Path:
    """An empty folder beside ``target`` to build it in, then ``os.replace`` onto it; made with the permissions
    of any new folder (``tempfile.mkdtemp`` alone would leave the renamed cache readable by its owner only)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(staging, 0o777 & ~umask())
    return staging


def umask() -> int:
    """This process's umask, read without changing it where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
