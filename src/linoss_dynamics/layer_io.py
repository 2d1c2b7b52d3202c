"""Layer parameters in and out: ``.npz`` files and the research layers' modules.

``.npz`` layout (``save_layer`` writes it, ``load_layer`` reads it; no pickles):

    scheme  0-d unicode array: a ``Scheme`` value
    A       float64 (P,)          stiffness, as the layer runs it
    dt      float64 () or (P,)    time step, as the layer runs it
    B       complex128 (P, H)     (or float (P, H, 2): real and imaginary parts)
    C       complex128 (H, P)     (or float (H, P, 2))
    D       float64 (H,)
    G       float64 (P,)          damped schemes only

The values are those after the training parameterisation: a file holds what
``LinOSSLayer`` runs, never raw training values.

The research layers (Equinox modules) store raw values instead. Their fields
map as follows, and ``layer_from_module`` applies ``parameterize`` to the raw
ones, as their forward pass does:

    A_diag -> A (raw)      G_diag -> G (raw; absent or None when undamped)
    steps or dt -> dt (raw, before the sigmoid)
    B (P, H, 2) -> B       C (H, P, 2) -> C       D (H,) -> D

The scheme comes from the class name (``IMLayer``, ``IMEXLayer``,
``DampedIMLayer``, ``DampedIMEX1Layer``, ``DampedIMEX2Layer``,
``DampedEXLayer``) or from ``discretization`` (``"IM"``/``"IMEX"``) and
``damping`` (IMEX with damping is D-LinOSS IMEX1), unless given.
"""

from __future__ import annotations

import importlib
import os
import zipfile
from typing import Any

import numpy as np

from .errors import InvalidShapeError, LinOSSError, UnsupportedModeError
from .layer import LinOSSLayer, layer_from_mapping, parameterize
from .schemes import Scheme

__all__ = ["layer_from_module", "load_equinox", "load_layer", "save_layer"]

_CLASS_SCHEMES = {
    "IMLayer": Scheme.IM,
    "IMEXLayer": Scheme.IMEX,
    "DampedIMLayer": Scheme.DAMPED_IM,
    "DampedIMEX1Layer": Scheme.DAMPED_IMEX1,
    "DampedIMEX2Layer": Scheme.DAMPED_IMEX2,
    "DampedEXLayer": Scheme.DAMPED_EX,
}


def save_layer(layer: LinOSSLayer, path: str | os.PathLike[str]) -> None:
    """Write ``layer``'s parameters and scheme to an ``.npz`` file."""
    np.savez(path, scheme=np.array(layer.scheme.value), **layer.parameters())


def load_layer(
    path: str | os.PathLike[str], *, scheme: Any = None, allow_unstable: bool = False
) -> LinOSSLayer:
    """A layer from an ``.npz`` file in the layout above.

    Args:
        path: The file.
        scheme: Overrides (or supplies) the file's ``scheme``.
        allow_unstable: As for ``LinOSSLayer``.

    Raises:
        LinOSSError: the file cannot be read as an ``.npz`` without pickles
            (``argument`` is ``"path"``), or has no scheme.
        InvalidShapeError: an array is missing (``argument`` names it); the
            errors of ``LinOSSLayer`` for malformed arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise LinOSSError(
            f"cannot read layer parameters from {os.fspath(path)!r}: {exc} (expected "
            "an .npz written by save_layer or numpy.savez, without object arrays)",
            argument="path",
            value=os.fspath(path),
        ) from None
    if scheme is None:
        stored = arrays.get("scheme")
        if stored is None:
            raise UnsupportedModeError(
                f"{os.fspath(path)!r} has no 'scheme' array; pass scheme=...",
                argument="scheme",
            )
        scheme = str(stored)
    return layer_from_mapping(arrays, scheme, allow_unstable=allow_unstable)


def _field(module: Any, *names: str) -> Any:
    for name in names:
        value = getattr(module, name, None)
        if value is not None:
            return np.asarray(value)
    return None


def _module_scheme(module: Any) -> Scheme:
    name = type(module).__name__
    if name in _CLASS_SCHEMES:
        return _CLASS_SCHEMES[name]
    discretization = getattr(module, "discretization", None)
    damping = bool(getattr(module, "damping", False))
    if discretization == "IM" and not damping:
        return Scheme.IM
    if discretization == "IMEX":
        return Scheme.DAMPED_IMEX1 if damping else Scheme.IMEX
    raise UnsupportedModeError(
        f"cannot tell the scheme of a {name} (discretization={discretization!r}, "
        f"damping={damping}); pass scheme=...",
        argument="scheme",
        value=name,
    )


def layer_from_module(
    module: Any, *, scheme: Any = None, allow_unstable: bool = False
) -> LinOSSLayer:
    """A layer from a research layer module (or any object with its fields).

    Reads the raw fields named in the module documentation, applies
    ``parameterize`` for the scheme and builds the layer. Works on the
    module's arrays through ``numpy.asarray``; float32 weights are widened to
    float64 exactly.

    Raises:
        InvalidShapeError: a field is missing (``argument`` names it).
        UnsupportedModeError: the scheme cannot be told and was not given.
    """
    resolved = _module_scheme(module) if scheme is None else Scheme(scheme)
    fields = {
        "A_diag": _field(module, "A_diag"),
        "steps": _field(module, "steps", "dt"),
        "B": _field(module, "B"),
        "C": _field(module, "C"),
        "D": _field(module, "D"),
    }
    if resolved.damped:
        fields["G_diag"] = _field(module, "G_diag")
    missing = [name for name, value in fields.items() if value is None]
    if missing:
        raise InvalidShapeError(
            f"a {type(module).__name__} for scheme {resolved.value} needs the fields "
            f"{', '.join(fields)}; missing {', '.join(missing)}",
            argument=missing[0],
        )
    params = parameterize(
        resolved,
        A=fields["A_diag"].astype(np.float64),
        dt=fields["steps"].astype(np.float64),
        G=fields["G_diag"].astype(np.float64) if resolved.damped else None,
    )
    return LinOSSLayer(
        params["A"],
        params["dt"],
        fields["B"].astype(np.float64),
        fields["C"].astype(np.float64),
        fields["D"].astype(np.float64),
        G=params.get("G"),
        scheme=resolved,
        allow_unstable=allow_unstable,
    )


def load_equinox(
    path: str | os.PathLike[str],
    like: Any,
    *,
    scheme: Any = None,
    allow_unstable: bool = False,
) -> LinOSSLayer:
    """A layer from an Equinox checkpoint (``equinox.tree_serialise_leaves``).

    Equinox needs a module of the same structure, ``like``, to read leaves into;
    the result then goes through ``layer_from_module``.

    Raises:
        LinOSSError: ``equinox`` (and ``jax``) are not installed
            (``pip install equinox jax``), or the file does not fit ``like``.
    """
    try:
        eqx = importlib.import_module("equinox")
    except ImportError:
        raise LinOSSError(
            "reading an Equinox checkpoint needs equinox and jax: pip install "
            "equinox jax (or save the parameters with numpy.savez and use "
            "load_layer)",
            argument="equinox",
        ) from None
    try:
        module = eqx.tree_deserialise_leaves(path, like)
    except (OSError, ValueError, RuntimeError) as exc:
        raise LinOSSError(
            f"cannot read Equinox checkpoint {os.fspath(path)!r} into a "
            f"{type(like).__name__}: {exc}",
            argument="path",
            value=os.fspath(path),
        ) from None
    return layer_from_module(module, scheme=scheme, allow_unstable=allow_unstable)
