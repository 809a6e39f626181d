"""Hidden checks that record, so that the grader judges outside the student's kernel.

A verdict computed inside the kernel that ran the student's code can be forged by that code: it can replace
the reference function, ``np.array_equal`` or ``torch.allclose`` before the hidden test calls them. So a lab's
hidden tests do not compare anything. They call the student's code on inputs they build themselves and
*record* what came back; the grader, in its own process, compares those records with the ones a clean run of
the solution notebook made (see ``grader/verdicts.py``). Use it in a test cell's hidden part (between nbgrader's
hidden-tests markers)::

    from videollm.record import Checks
    check = Checks("test_uniform_indices")                  # the test cell's grade_id
    check.value("10 frames, 4 samples", lambda: uniform_indices(10, 4))
    check.value("300 random sizes", lambda: [uniform_indices(t, n) for t, n in cases],
                expect=lambda: [sampling.uniform_indices(t, n) for t, n in cases])
    check.raises("num_frames = 0", ValueError, lambda: uniform_indices(10, 0))

A lab's setup cell imports the course's reference, so the answer to a task is one call away. ``graded`` names
what the cell's task re-implements (``Checks("test_patchify", graded=["videollm.vit.patches:patchify"])``): while a
check's thunk runs, any call into that function's code (a class: any of its methods), however it was reached
(the module attribute, an alias, a one-line wrapper, a subclass, a saved copy of the function), records
"used the reference" instead of a value, and the check fails. Expected values (``expect``) may use it freely.

Each check calls its thunk and records the value or the exception. The student's run records only what the
student's code returned; the solution's run (``VIDEOLLM_RECORD_MODE=reference``) records the expected value:
``expect()`` when given (a library the answer must agree with), else the solution's own value, and how to
compare (``exact``, ``close`` with ``rtol``/``atol``, or ``agree``: the share of a list's items that must equal
the expected ones). Where even the last step of a check must not happen in the kernel, ``derive`` names a course
function (``"videollm.module:function"``) that the grader applies, in its own process, to the student's recorded
value before comparing (lab 07 records a trained head's weights; the grader retrieves with them). The check names
are shown to the student in feedback;
write them as you would an assertion message. Outside a grading run (``VIDEOLLM_RECORD`` unset) nothing is
written, so a student running the lab sees the visible checks only.

Values that can be recorded: None, bool, int, float, str, NumPy arrays and scalars, torch tensors, and lists,
tuples and dicts of these. Anything else is an error in reference mode (record a number, string or array
taken from the object instead).
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import math
import importlib.util
import os
import sys
import threading
from typing import Any, Callable, Iterable

import numpy as np

MODE_ENV, PATH_ENV = "VIDEOLLM_RECORD_MODE", "VIDEOLLM_RECORD"
MAX_ITEMS = 100_000  # a list longer than this is recorded as too long: keep hidden checks small
MAX_TEXT = 10_000  # characters of a string (or exception message) kept
ARRAY_KINDS = "biufc"  # bool, int, uint, float, complex: the dtypes an array may have


class RecordError(TypeError):
    """A value that cannot be recorded (only raised in reference mode: the lab's author must fix the check)."""


def encode(value: Any, depth: int = 0) -> dict:
    """``value`` as plain JSON data: ``{"t": kind, ...}``. Unsupported types become ``{"t": "object"}``."""
    if depth > 20:
        return {"t": "too-deep"}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int) and type(value) is int:
        return {"t": "int", "v": str(value)}  # as text: Python ints have no size limit, JSON readers do
    if isinstance(value, float) and type(value) is float:
        return {"t": "float", "v": repr(value)}  # repr keeps nan/inf and every bit
    if isinstance(value, str) and type(value) is str:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return {"t": "str", "v": value[:MAX_TEXT], "len": len(value), "sha256": digest}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"t": "too-long", "len": len(value)}
        return {"t": type(value).__name__, "items": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict) and type(value) is dict:
        if len(value) > MAX_ITEMS:
            return {"t": "too-long", "len": len(value)}
        return {"t": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if type(value).__module__ == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        return _encode_tensor(value)
    if type(value) is np.ndarray or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in ARRAY_KINDS:
            return {"t": "object", "type": f"numpy array of {array.dtype}"}
        kind = "ndarray" if isinstance(value, np.ndarray) else "npscalar"
        return {"t": kind, **_array_fields(array)}
    return {"t": "object", "type": f"{type(value).__module__}.{type(value).__qualname__}"}


def _array_fields(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "b64": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def _encode_tensor(tensor) -> dict:
    import torch

    t = tensor.detach()
    data = t.to("cpu")
    if data.dtype in (torch.bfloat16, torch.float16):  # no NumPy twin for bfloat16: widen, keep the name
        data = data.float()
    if data.is_complex() or data.dtype.is_floating_point or data.dtype in (torch.bool, torch.uint8, torch.int8,
                                                                          torch.int16, torch.int32, torch.int64):
        fields = _array_fields(data.contiguous().numpy())
    else:
        return {"t": "object", "type": f"tensor of {t.dtype}"}
    return {"t": "tensor", "tdtype": str(t.dtype), "device": t.device.type, **fields}


def encode_error(error: BaseException) -> dict:
    """An exception as its class hierarchy (qualified names, most derived first) and message. A class that
    calls itself a builtin without being one is named as the fake it is."""
    mro = [_class_name(c) for c in type(error).__mro__ if c is not object]
    return {"t": "raised", "mro": mro, "message": str(error)[:MAX_TEXT]}


def _class_name(cls: type) -> str:
    name = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__ == "builtins" and getattr(builtins, cls.__qualname__, None) is not cls:
        return f"not-builtins.{cls.__qualname__}"
    return name


def decode(encoded: dict, depth: int = 0) -> Any:
    """The inverse of :func:`encode` for what it can record: arrays and tensors come back as NumPy arrays, a long
    string as its recorded beginning. Raises ValueError for anything else (a forged or unreadable record)."""
    if not isinstance(encoded, dict) or depth > 20:
        raise ValueError("not a recorded value")
    kind = encoded.get("t")
    if kind == "none":
        return None
    if kind == "bool" and isinstance(encoded.get("v"), bool):
        return encoded["v"]
    if kind == "int":
        return int(encoded["v"])
    if kind == "float":
        return float(encoded["v"])
    if kind == "str" and isinstance(encoded.get("v"), str):
        return encoded["v"]
    if kind in ("list", "tuple") and isinstance(encoded.get("items"), list):
        items = [decode(item, depth + 1) for item in encoded["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(encoded.get("items"), list):
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in encoded["items"]}
    if kind in ("ndarray", "npscalar", "tensor"):
        return decode_array(encoded)
    raise ValueError(f"a recorded {kind!r} cannot be decoded")


class ReferenceUsed(BaseException):
    """The code under test called the course's reference for the graded task. A ``BaseException``, so that an
    answer's ``except Exception`` fallback cannot swallow it."""


#: What a thunk that switched the tripwire off is recorded as having used (``sys.setprofile``/``settrace``).
SWITCHED_OFF = "the check for calls into the reference (switched off)"
_SWITCHES = tuple(getattr(sys, name) for name in ("setprofile", "settrace", "_setprofileallthreads",
                                                   "_settraceallthreads") if hasattr(sys, name))


class _Tripwire:
    """Notices a call into given reference code while a thunk runs (a profile hook, Python 3.11+).

    The reference is found by the file its module was loaded from and the function's qualified name, never
    through the module's attributes, which the student's code may have replaced. A thunk may install a profile
    hook of its own that passes every event on to this one (lab 04 counts calls so); one that switches this hook
    off counts as a call into the reference: the ``sys.setprofile``/``settrace`` call must come back through this
    hook from the same call site, and at the end this hook must be the one installed (threading's too). What it
    cannot stop, since it shares the process with the code it watches: code that reaches into the hook's own
    state, calls into the reference through C (``ctypes``), or a call made before the check starts whose result is
    handed over."""

    def __init__(self, graded: Iterable[str]):
        self.targets: dict[str, set[str]] = {}  # source file -> qualified names
        for spec in graded:
            module, _, qualname = spec.partition(":")
            found = importlib.util.find_spec(module) if module and qualname else None
            if found is None or not found.origin:
                raise RecordError(f"graded={spec!r}: write it as 'package.module:function' (or ':Class')")
            self.targets.setdefault(found.origin, set()).add(qualname)
        self.hit: str | None = None
        self.armed = False  # True only while the thunk itself runs
        self.switching: tuple[int, int] | None = None  # (frame, instruction) of a setprofile call not yet returned

    def _is_target(self, code) -> str | None:
        names = self.targets.get(code.co_filename)
        if names:
            qualname = code.co_qualname
            for name in names:
                if qualname == name or qualname.startswith(name + "."):
                    return name
        return None

    def _hook(self, frame, event, arg):
        if self.hit is not None or not self.armed:
            return
        if event == "call" and (name := self._is_target(frame.f_code)):
            self.hit = name
            raise ReferenceUsed(name)
        if event in ("c_call", "c_return") and any(arg is switch for switch in _SWITCHES):
            site = (id(frame), frame.f_lasti)
            if event == "c_call":
                self.switching = site  # the new hook must pass this call's return back to this one
            elif self.switching == site:
                self.switching = None
            else:  # a return from elsewhere: this hook missed what happened in between
                self.hit = SWITCHED_OFF
                raise ReferenceUsed(SWITCHED_OFF)

    def run(self, thunk: Callable[[], Any]) -> Any:
        if not self.targets:
            return thunk()
        self.hit, self.switching, previous, previous_threads = None, None, sys.getprofile(), threading.getprofile()
        hook = self._hook
        sys.setprofile(hook)  # an error in the hook also unsets it: the finally puts the previous one back
        threading.setprofile(hook)  # and threads the check starts
        self.armed = True
        try:
            value = thunk()
        except BaseException:
            if self.hit is None:
                raise
        finally:
            self.armed = False  # from here on, the setprofile calls are this method's own
            if self.hit is None and (self.switching is not None or sys.getprofile() is not hook
                                     or threading.getprofile() is not hook):
                self.hit = SWITCHED_OFF  # the hook was replaced, and not by one that passes events on
            sys.setprofile(previous)
            threading.setprofile(previous_threads)
        if self.hit is not None:  # also when the answer caught ReferenceUsed with a bare except
            raise ReferenceUsed(self.hit)
        return value


class Checks:
    """The recorded checks of one test cell (``cell`` is its nbgrader ``grade_id``; ``graded`` the reference
    code its task re-implements, ``"module:qualname"``, which the code under test must not call)."""

    def __init__(self, cell: str, graded: Iterable[str] = ()):
        self.cell = cell
        self.mode = os.environ.get(MODE_ENV, "student")
        self.path = os.environ.get(PATH_ENV)
        self.tripwire = _Tripwire(graded)

    def value(self, name: str, thunk: Callable[[], Any], expect: Callable[[], Any] | None = None,
              rtol: float = 0.0, atol: float = 0.0, agree: float | None = None, derive: str | None = None,
              derive_args: dict | None = None) -> None:
        """Record what ``thunk()`` returns (or raises). Exact comparison unless ``rtol``/``atol`` is set.

        ``agree``: the value is a list (a model's answers, say), and it passes when at least this share of its
        items equal the expected list's, item by item (the share is the reference run's: a threshold computed
        in the hidden test from the solution's own results is fixed there, not in the student's kernel).
        ``derive``: ``"videollm.module:function"``, applied by the grader to the student's value (decoded, see
        :func:`decode`) before the comparison, with the keyword arguments ``derive_args`` (JSON; recorded by the
        reference run only, so a student's run cannot change them); ``expect`` gives what the result must match."""
        if agree is not None:
            if not 0 <= agree <= 1 or rtol or atol:
                raise RecordError(f"check {name!r}: agree is a share in [0, 1], without rtol/atol")
            compare = {"how": "agree", "share": float(agree)}
        else:
            compare = {"how": "close", "rtol": rtol, "atol": atol} if (rtol or atol) else {"how": "exact"}
        if derive is not None:
            module, _, function = derive.partition(":")
            if not module.startswith("videollm.") or not function.isidentifier() or (
                    expect is None and self.mode == "reference"):  # student runs carry no expect= (the grader's cut)
                raise RecordError(f"check {name!r}: derive is 'videollm.module:function', with an expect")
            compare["derive"] = derive
            if derive_args:
                compare["derive_args"] = json.loads(json.dumps(derive_args))  # plain JSON, or an error here
        if self.mode == "reference" and expect is not None:
            outcome = self._outcome(expect, guarded=False)
        else:
            outcome = self._outcome(thunk)
        self._write(name, "value", outcome, compare)

    def raises(self, name: str, error: type[BaseException], thunk: Callable[[], Any]) -> None:
        """Record that ``thunk()`` must raise ``error`` (or a subclass)."""
        outcome = self._outcome(thunk)
        if self.mode == "reference":
            expected = _class_name(error)
            if outcome["t"] != "raised" or expected not in outcome["mro"]:
                raise RecordError(f"check {name!r}: the solution does not raise {error.__qualname__}")
            outcome = {"t": "raised", "mro": [expected], "message": ""}
        self._write(name, "raises", outcome, {"how": "raises"})

    def _outcome(self, thunk: Callable[[], Any], guarded: bool = True) -> dict:
        try:
            value = self.tripwire.run(thunk) if guarded else thunk()
        except ReferenceUsed as used:
            if self.mode == "reference":
                raise RecordError(f"cell {self.cell}: the solution (or the check itself) calls the graded "
                                  f"reference {used}; build inputs outside the thunk") from None
            return {"t": "reference-used", "name": str(used)}
        except Exception as error:  # noqa: BLE001 -- any failure of the code under test is a recorded outcome
            return encode_error(error)
        encoded = encode(value)
        if self.mode == "reference" and _unsupported(encoded):
            raise RecordError(f"cell {self.cell}: a value of type {type(value).__name__} cannot be recorded; "
                              "record numbers, strings, arrays or tensors taken from it")
        return encoded

    def _write(self, name: str, kind: str, outcome: dict, compare: dict) -> None:
        if not self.path:
            return
        line = {"cell": self.cell, "check": name, "kind": kind, "outcome": outcome}
        if self.mode == "reference":
            line["compare"] = compare
        with open(self.path, "a") as f:
            f.write(json.dumps(line, allow_nan=False) + "\n")


def _unsupported(encoded: dict) -> bool:
    if encoded["t"] in ("object", "too-deep", "too-long"):
        return True
    children = encoded.get("items", [])
    flat = [x for pair in children for x in pair] if encoded["t"] == "dict" else children
    return any(_unsupported(child) for child in flat)


def decode_array(fields: dict) -> np.ndarray:
    """The array of an encoded ``ndarray``/``npscalar``/``tensor`` (validated: a bad record raises ValueError)."""
    dtype = np.dtype(fields["dtype"])
    if dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"dtype {dtype} cannot be recorded")
    shape = tuple(int(n) for n in fields["shape"])
    if any(n < 0 for n in shape) or len(shape) > 32:
        raise ValueError("bad shape")
    raw = base64.b64decode(fields["b64"], validate=True)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise ValueError("data length does not match the shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)
