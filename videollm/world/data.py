"""Unit 00 — the course's clips: the manifest in ``data/manifest.json`` and an on-demand cache of the generated media.

Nothing here is downloaded. Each clip in the manifest is a seed plus :func:`videollm.world.clips.make_clip`
parameters; the first time a clip is asked for, it is generated and written to the cache as
``<name>.mp4`` + ``<name>.npz`` (ground truth) + ``<name>.json`` (metadata and the spec's hash). Later calls reuse
those files as long as the hash stored in the ``.json`` matches the manifest entry (and the generator's
:data:`~videollm.world.shapes.WORLD_VERSION`); otherwise the clip is generated again.

Usage::

    from videollm.world.data import clip_path, ground_truth
    path = clip_path("bouncing_shapes")        # Path to the .mp4, generated if needed
    gt = ground_truth("bouncing_shapes")       # boxes, visible, motion, segmentation, meta, ...

    $ python -m videollm.world.data list
    $ python -m videollm.world.data build [--force] [names...]

Environment variables:

- ``VIDEOLLM_DATA``: the cache directory (default: ``data/cache`` in a repository checkout, else
  ``~/.cache/videollm``).
- ``VIDEOLLM_MANIFEST``: a different manifest file (default: ``data/manifest.json`` of the checkout).

Lecture: `lectures/00_video_as_data.ipynb` §1–2, §4.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from videollm.cache import REPO_DATA, data_dir
from videollm.world import clips
from videollm.world.files import is_cached

MANIFEST_PATH = REPO_DATA / "manifest.json"

#: Keys of a manifest entry that are not arguments of make_clip.
_ENTRY_KEYS = {"name", "description", "codec"}
_CODECS = ("h264", "mpeg4")


def manifest_path() -> Path:
    """The manifest in use: ``$VIDEOLLM_MANIFEST`` if set, else ``data/manifest.json`` of the checkout."""
    return Path(os.environ.get("VIDEOLLM_MANIFEST") or MANIFEST_PATH).expanduser()


def manifest() -> dict[str, dict[str, Any]]:
    """Read and check the manifest: ``{name: entry}`` in file order.

    The file is a JSON list of entries; each has ``name``, optional ``description``, ``codec`` (``"h264"`` or
    ``"mpeg4"``, default h264) and keyword arguments of :func:`videollm.world.clips.make_clip` (``seed`` required).
    """
    path = manifest_path()
    if not path.exists():
        raise FileNotFoundError(
            f"clip manifest not found: {path}. It lives in the course repository's data/ folder: install the "
            "course from a checkout (`pip install -e .`) or point VIDEOLLM_MANIFEST at a manifest file"
        )
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"could not parse the clip manifest {path}: {error}") from error
    if not isinstance(entries, list):
        raise ValueError(f"the clip manifest {path} must be a JSON list of clip entries; got {type(entries).__name__}")
    allowed = {"seed", *clips.PARAM_DEFAULTS}
    by_name: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"entry {i} of {path} needs a 'name' usable as a file name; got {entry!r}")
        if name in by_name:
            raise ValueError(f"clip name {name!r} appears twice in {path}")
        unknown = set(entry) - allowed - _ENTRY_KEYS
        if unknown:
            raise ValueError(
                f"clip {name!r} in {path} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed | _ENTRY_KEYS)}"
            )
        if "seed" not in entry:
            raise ValueError(f"clip {name!r} in {path} has no 'seed'")
        if entry.get("codec", "h264") not in _CODECS:
            raise ValueError(f"clip {name!r} in {path}: codec must be one of {_CODECS}; got {entry['codec']!r}")
        by_name[name] = dict(entry)
    return by_name


def _entry(name: str) -> dict[str, Any]:
    by_name = manifest()
    if name not in by_name:
        raise KeyError(f"unknown clip {name!r}; the manifest {manifest_path()} has: {', '.join(by_name)}")
    return by_name[name]


def clip_params(name: str) -> dict[str, Any]:
    """All :func:`videollm.world.clips.make_clip` arguments for a manifest clip, defaults filled in."""
    entry = _entry(name)
    return {**clips.PARAM_DEFAULTS, **{k: v for k, v in entry.items() if k not in _ENTRY_KEYS}}


def clip_hash(name: str) -> str:
    """:func:`videollm.world.clips.clip_hash` of a manifest clip: world version, parameters, codec."""
    return clips.clip_hash(clip_params(name), _entry(name).get("codec", "h264"))


def _ensure(name: str, force: bool = False) -> tuple[Path, bool]:
    """The clip's ``.mp4`` in the cache, generated first if missing, stale or ``force``d; returns ``(path, made)``."""
    entry = _entry(name)
    return clips.cached_clip_file(data_dir(), name, clip_params(name), entry.get("codec", "h264"),
                                  {"description": entry.get("description", "")}, force=force)


def clip_path(name: str) -> Path:
    """Path to a manifest clip's ``.mp4``, generating it and its ground truth first if missing or stale.

    Raises:
        KeyError: ``name`` is not in the manifest (the message lists the names that are).
    """
    return _ensure(name)[0]


def ground_truth(name: str) -> dict[str, Any]:
    """Ground truth of a manifest clip (generated if needed); see :func:`videollm.world.clips.load_ground_truth`.

    Returns:
        dict with ``boxes (T, K, 4) float32``, ``visible (T, K) bool``, ``motion (T, H, W, 2) float32``,
        ``segmentation (T, H, W) int8``, ``fps``, ``shape``, ``codec``, ``meta``, ``video`` (the ``.mp4`` path),
        ``clip_hash`` and ``description``.
    """
    clip_path(name)
    return clips.load_ground_truth(data_dir(), name)


def build_all(names: Sequence[str] | None = None, force: bool = False, log=None) -> list[dict[str, Any]]:
    """Make sure the named clips (default: all in the manifest) are in the cache.

    Args:
        names: manifest names; ``None`` for all.
        force: regenerate even if the cached files are current.
        log: called with one line of text per clip as it finishes (e.g. ``print``); ``None`` for silence.

    Returns:
        One record per clip: ``name``, ``frames``, ``height``, ``width``, ``fps``, ``seconds`` (time spent),
        ``status`` (``"generated"`` or ``"cached"``) and ``path``.
    """
    names = list(manifest()) if names is None else list(names)
    for name in names:
        _entry(name)  # fail on a typo before generating anything
    records = []
    for name in names:
        start = time.perf_counter()
        path, generated = _ensure(name, force=force)
        seconds = time.perf_counter() - start
        params = clip_params(name)
        record = {
            "name": name,
            "frames": params["num_frames"],
            "height": params["height"],
            "width": params["width"],
            "fps": params["fps"],
            "seconds": seconds,
            "status": "generated" if generated else "cached",
            "path": path,
        }
        records.append(record)
        if log is not None:
            log(
                f"{name:<18} {record['frames']:>4} frames  {record['width']}x{record['height']} "
                f"@ {record['fps']:g} fps  {seconds:6.2f} s  {record['status']}"
            )
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.world.data", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="generate the manifest's clips into the cache (skips current ones)")
    build.add_argument("names", nargs="*", help="clip names (default: all)")
    build.add_argument("--force", action="store_true", help="regenerate even if cached")
    commands.add_parser("list", help="list the manifest's clips and whether each is cached")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            start = time.perf_counter()
            records = build_all(args.names or None, force=args.force, log=lambda line: print(line, flush=True))
            total = time.perf_counter() - start
            print(f"{len(records)} clips in {data_dir()} ({total:.2f} s)")
        else:
            directory = data_dir()
            for name, entry in manifest().items():
                params = clip_params(name)
                state = "cached" if is_cached(directory, name, clip_hash(name)) else "not built"
                print(
                    f"{name:<18} {params['num_frames']:>4} frames  {params['width']}x{params['height']} @ "
                    f"{params['fps']:g} fps  {params['background']:<16} {entry.get('codec', 'h264'):<5}  "
                    f"{state:<9}  {entry.get('description', '')}"
                )
            print(f"cache: {directory}")
    except (KeyError, ValueError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
