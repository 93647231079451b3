"""Read a feed-forward ONNX model as a :class:`solver.network.Network`.

Supported operators (default ONNX domain), on a single chain of tensors:

* ``Gemm`` (``transA``, ``transB``, ``alpha``, ``beta``; the data may be
  either operand), ``MatMul`` and ``Add`` with constant operands: affine maps;
* ``Conv`` (any number of spatial dimensions, ``strides``, ``pads``,
  ``auto_pad``, ``group = 1``, ``dilations``): converted to its dense matrix
  for the input shape the model declares (row-major ``C, spatial...``
  flattening, the ONNX memory order);
* ``Relu``, ``LeakyRelu`` (``alpha``), ``Sigmoid``, ``Tanh``: close the
  current layer (:func:`solver.activations.from_onnx`);
* ``Flatten``, ``Identity``, ``Reshape``: no-ops on the flat vector (they only
  change the shape a later ``Conv`` sees);
* ``Constant`` and graph initializers: constant operands.

Consecutive affine operators are composed into one layer; an activation
directly after another one gives an identity weight matrix; trailing affine
operators become a last layer with the ``identity`` activation.

Anything else raises :class:`solver.errors.InputError` with one line naming the
operator, its node index and its name. A leading batch dimension (first
dimension of an input of rank >= 2) is dropped; the network sees one sample.

The weights are converted to binary64 exactly (float32 and float16 values are
binary64 values), so the exact decision is about the model as stored.
"""
from __future__ import annotations

import os

import numpy as np

from .activations import IDENTITY, ONNX_ACTIVATIONS, from_onnx
from .errors import InputError
from .network import make_network

SUPPORTED = ("Gemm", "MatMul", "Add", "Conv") + ONNX_ACTIVATIONS + (
    "Flatten", "Identity", "Reshape", "Constant")


def _import_onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:  # pragma: no cover - onnx is a test dependency
        raise InputError("reading .onnx files needs the 'onnx' package "
                         "(pip install 'reluinj[onnx]')") from None
    return onnx, numpy_helper


class _Chain:
    """Walk the graph as one chain: ``cur`` is the name of the tensor that
    carries the sample, ``shape`` its shape without the batch dimension, and
    ``(A, c)`` the affine map accumulated since the last activation."""

    def __init__(self, n_in, shape):
        self.shape = tuple(shape)
        self.size = n_in
        self.A = None     # pending affine map: None = identity
        self.c = None
        self.weights, self.biases, self.acts = [], [], []

    def affine(self, M, v):
        """Compose ``x -> M x + v`` after the pending map."""
        M = np.asarray(M, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if self.A is None:
            self.A, self.c = M, v
        else:
            self.A, self.c = M @ self.A, M @ self.c + v
        self.size = M.shape[0]

    def activation(self, act):
        if self.A is None:
            self.A, self.c = np.eye(self.size), np.zeros(self.size)
        self.weights.append(self.A)
        self.biases.append(self.c)
        self.acts.append(act)
        self.A = self.c = None

    def finish(self):
        if self.A is not None:
            self.activation(IDENTITY)


def _where(idx, node):
    return f"node {idx} ({node.name!r})" if node.name else f"node {idx} (unnamed)"


def _attrs(onnx, node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _dims(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    out = []
    for d in t.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else None)
    return out


def _conv_matrix(w, in_shape, strides, pads, dilations, where):
    """Dense matrix of a stride-``strides`` convolution with kernel ``w``
    (M, C, k1, ..., kd) on inputs of shape ``in_shape`` = (C, n1, ..., nd).
    ``pads`` = (begin_1..begin_d, end_1..end_d). Cross-correlation, as ONNX."""
    M, C = w.shape[:2]
    ks = w.shape[2:]
    d = len(ks)
    if len(in_shape) != d + 1 or in_shape[0] != C:
        raise InputError(f"Conv at {where}: kernel {w.shape} does not fit input shape {in_shape}")
    ns = in_shape[1:]
    outs = []
    for j in range(d):
        span = dilations[j] * (ks[j] - 1) + 1
        o = (ns[j] + pads[j] + pads[d + j] - span) // strides[j] + 1
        if o <= 0:
            raise InputError(f"Conv at {where}: kernel larger than the padded input")
        outs.append(o)
    n_in = int(np.prod(in_shape))
    n_out = M * int(np.prod(outs))
    if n_in * n_out > 50_000_000:
        raise InputError(f"Conv at {where}: dense matrix {n_out}x{n_in} is too large")
    W = np.zeros((n_out, n_in))
    grid = np.stack(np.meshgrid(*[np.arange(o) for o in outs], indexing="ij"), -1).reshape(-1, d)
    out_flat_pos = np.ravel_multi_index(grid.T, outs) if d else np.zeros(1, int)
    n_pos = int(np.prod(outs))
    for koff in np.ndindex(*ks):
        ipos = grid * np.array(strides) + np.array(koff) * np.array(dilations) - np.array(pads[:d])
        ok = np.all((ipos >= 0) & (ipos < np.array(ns)), axis=1)
        if not ok.any():
            continue
        in_flat_pos = np.ravel_multi_index(ipos[ok].T, ns)
        for m in range(M):
            rows = m * n_pos + out_flat_pos[ok]
            for c in range(C):
                val = w[(m, c) + koff]
                if val != 0:
                    W[rows, c * int(np.prod(ns)) + in_flat_pos] += val
    return W, (M,) + tuple(outs)


def load_onnx(path):
    """Load an ONNX model file as a :class:`~solver.network.Network`.

    Parameters
    ----------
    path : str or os.PathLike, an ``.onnx`` file.

    Returns
    -------
    Network (dense layers; activations ``relu``, ``leaky_relu:<alpha>``,
    ``sigmoid``, ``tanh``, ``identity``).

    Raises
    ------
    InputError : missing file, not an ONNX model, unsupported operator (the
        message names it, with node index and name), non-chain graph, shape
        mismatch, NaN/inf weights.
    """
    onnx, numpy_helper = _import_onnx()
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputError(f"no such file: {p}")
    if os.path.isdir(p):
        raise InputError(f"{p} is a directory, not a model file")
    try:
        model = onnx.load(p)
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {p} as ONNX: {msg}") from None
    g = model.graph
    if len(g.node) == 0:
        raise InputError(f"{p}: ONNX graph has no nodes (not an ONNX model?)")
    consts = {}
    for t in g.initializer:
        consts[t.name] = numpy_helper.to_array(t)
    inputs = [vi for vi in g.input if vi.name not in consts]
    if len(inputs) != 1:
        raise InputError(f"{p}: expected one data input, found {len(inputs)} "
                         f"({', '.join(vi.name for vi in inputs) or 'none'})")
    dims = _dims(inputs[0])
    if not dims:
        raise InputError(f"{p}: input {inputs[0].name!r} has no declared shape")
    batched = len(dims) >= 2
    feat = dims[1:] if batched else dims
    if any(d is None or d <= 0 for d in feat):
        raise InputError(f"{p}: input {inputs[0].name!r} has unknown dimensions {dims}")
    ch = _Chain(int(np.prod(feat)), feat)
    cur = inputs[0].name
    seen_cur = {cur}

    def const(name, where, op):
        if name in consts:
            a = np.asarray(consts[name])
            if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
                raise InputError(f"{op} at {where}: constant {name!r} contains NaN or inf")
            return a
        raise InputError(f"{op} at {where}: operand {name!r} is neither the data tensor "
                         f"nor a constant (only chain-shaped graphs are supported)")

    for idx, node in enumerate(g.node):
        op = node.op_type
        where = _where(idx, node)
        if node.domain not in ("", "ai.onnx"):
            raise InputError(f"unsupported ONNX operator {node.domain}.{op} at {where}")
        if op not in SUPPORTED:
            raise InputError(f"unsupported ONNX operator {op!r} at {where}; supported: "
                             f"{', '.join(SUPPORTED)}")
        at = _attrs(onnx, node)
        if op == "Constant":
            if "value" not in at:
                raise InputError(f"Constant at {where}: only the 'value' attribute is supported")
            consts[node.output[0]] = numpy_helper.to_array(at["value"])
            continue
        ins = list(node.input)
        data_pos = [k for k, nm in enumerate(ins) if nm == cur]
        if len(data_pos) != 1:
            uses = [nm for nm in ins if nm in seen_cur]
            raise InputError(f"{op} at {where} does not take the previous output {cur!r} "
                             f"exactly once" + (f" (uses {uses})" if uses else "")
                             + "; only chain-shaped graphs are supported")
        dp = data_pos[0]
        out = node.output[0]
        n = ch.size
        if op == "Gemm":
            alpha = float(at.get("alpha", 1.0))
            beta = float(at.get("beta", 1.0))
            tA, tB = int(at.get("transA", 0)), int(at.get("transB", 0))
            if (dp == 0 and tA) or (dp == 1 and tB):
                raise InputError(f"Gemm at {where}: a transposed data operand (features x "
                                 f"batch layout) is not supported")
            if dp == 0:       # Y = alpha * x' B' + beta C, x' = x (row vector)
                B = const(ins[1], where, op).astype(np.float64)
                if B.ndim != 2:
                    raise InputError(f"Gemm at {where}: B must be 2-D, got shape {B.shape}")
                Bp = B.T if tB else B      # (n, M)
                if Bp.shape[0] != n:
                    raise InputError(f"Gemm at {where}: weight has {Bp.shape[0]} input "
                                     f"features, data has {n}")
                M = alpha * Bp.T
            elif dp == 1:     # Y = alpha * A' x' + beta C, x' = x (column vector)
                A = const(ins[0], where, op).astype(np.float64)
                if A.ndim != 2:
                    raise InputError(f"Gemm at {where}: A must be 2-D, got shape {A.shape}")
                Ap = A.T if tA else A      # (M, n)
                if Ap.shape[1] != n:
                    raise InputError(f"Gemm at {where}: weight has {Ap.shape[1]} input "
                                     f"features, data has {n}")
                M = alpha * Ap
            else:
                raise InputError(f"Gemm at {where}: the data may not be the bias C")
            m = M.shape[0]
            v = np.zeros(m)
            if len(ins) > 2 and ins[2]:
                C = const(ins[2], where, op).astype(np.float64)
                if C.size == 1:
                    v = np.full(m, float(C.reshape(-1)[0]))
                elif C.size == m:
                    v = C.reshape(-1).copy()
                else:
                    raise InputError(f"Gemm at {where}: bias C of shape {C.shape} does not "
                                     f"broadcast to {m} outputs")
                v = beta * v
            ch.affine(M, v)
            ch.shape = (m,)
        elif op == "MatMul":
            other = ins[1 - dp]
            B = const(other, where, op).astype(np.float64)
            if B.ndim != 2:
                raise InputError(f"MatMul at {where}: constant operand must be 2-D, "
                                 f"got shape {B.shape}")
            M = B.T if dp == 0 else B
            if M.shape[1] != n:
                raise InputError(f"MatMul at {where}: weight has {M.shape[1]} input "
                                 f"features, data has {n}")
            ch.affine(M, np.zeros(M.shape[0]))
            ch.shape = (M.shape[0],)
        elif op == "Add":
            c = const(ins[1 - dp], where, op).astype(np.float64)
            if batched and c.ndim == len(ch.shape) + 1 and c.shape[0] == 1:
                c = c[0]      # a bias written with the batch dimension
            try:
                v = np.broadcast_to(c, ch.shape).reshape(-1)
            except ValueError:
                raise InputError(f"Add at {where}: constant of shape {c.shape} does not "
                                 f"broadcast to the data shape {ch.shape}") from None
            ch.affine(np.eye(n), v)
        elif op == "Conv":
            w = const(ins[1], where, op).astype(np.float64) if dp == 0 else None
            if w is None:
                raise InputError(f"Conv at {where}: the data must be the first input")
            d = w.ndim - 2
            if int(at.get("group", 1)) != 1:
                raise InputError(f"Conv at {where}: group != 1 is not supported")
            strides = list(at.get("strides", [1] * d))
            dil = list(at.get("dilations", [1] * d))
            pads = list(at.get("pads", [0] * (2 * d)))
            auto = at.get("auto_pad", b"NOTSET")
            auto = auto.decode() if isinstance(auto, bytes) else str(auto)
            if len(ch.shape) != d + 1:
                raise InputError(f"Conv at {where}: data shape {ch.shape} is not "
                                 f"(channels, {d} spatial dims)")
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                pads = [0] * (2 * d)
                for j in range(d):
                    o = -(-ch.shape[1 + j] // strides[j])
                    total = max(0, (o - 1) * strides[j] + dil[j] * (w.shape[2 + j] - 1) + 1
                                - ch.shape[1 + j])
                    small, big = total // 2, total - total // 2
                    pads[j], pads[d + j] = (small, big) if auto == "SAME_UPPER" else (big, small)
            elif auto == "VALID":
                pads = [0] * (2 * d)
            elif auto != "NOTSET":
                raise InputError(f"Conv at {where}: auto_pad {auto!r} is not supported")
            Wc, oshape = _conv_matrix(w, ch.shape, strides, pads, dil, where)
            bias = np.zeros(Wc.shape[0])
            if len(ins) > 2 and ins[2]:
                B = const(ins[2], where, op).astype(np.float64).reshape(-1)
                if B.size != oshape[0]:
                    raise InputError(f"Conv at {where}: bias has {B.size} entries for "
                                     f"{oshape[0]} output channels")
                bias = np.repeat(B, int(np.prod(oshape[1:])))
            ch.affine(Wc, bias)
            ch.shape = oshape
        elif op in ONNX_ACTIVATIONS:
            ch.activation(from_onnx(op, at, where))
        elif op == "Flatten":
            ch.shape = (n,)
        elif op == "Identity":
            pass
        elif op == "Reshape":
            if len(ins) < 2:
                raise InputError(f"Reshape at {where}: missing shape operand")
            target = [int(s) for s in const(ins[1], where, op).reshape(-1)]
            if batched:
                if not target:
                    raise InputError(f"Reshape at {where}: cannot drop the batch dimension")
                target = target[1:]
            full = list(ch.shape)
            shp = [full[k] if (s == 0 and k < len(full)) else s for k, s in enumerate(target)]
            if shp.count(-1) > 1:
                raise InputError(f"Reshape at {where}: more than one -1 in shape {target}")
            if -1 in shp:
                rest = int(np.prod([s for s in shp if s != -1]))
                if rest <= 0 or n % rest:
                    raise InputError(f"Reshape at {where}: cannot reshape {n} values to {target}")
                shp[shp.index(-1)] = n // rest
            if int(np.prod(shp)) != n or any(s <= 0 for s in shp):
                raise InputError(f"Reshape at {where}: cannot reshape {n} values to {target}")
            ch.shape = tuple(shp)
        cur = out
        seen_cur.add(cur)
    outs = [o.name for o in g.output]
    if outs != [cur]:
        raise InputError(f"{p}: graph output {outs} is not the end of the chain ({cur!r})")
    ch.finish()
    if not ch.weights:
        raise InputError(f"{p}: the model has no layers")
    return make_network(ch.weights, ch.biases, ch.acts)
