"""Read a feed-forward ONNX model as a :class:`solver.network.Network`.

Supported operators (default ONNX domain), on a single chain of tensors:

* ``Gemm`` (``transA``, ``transB``, ``alpha``, ``beta``; the data may be
  either operand), ``MatMul`` and ``Add`` with constant operands: affine maps;
* ``Conv`` and ``ConvTranspose`` (any number of spatial dimensions,
  ``strides``, ``pads``, ``auto_pad``, ``dilations``, ``output_padding``,
  ``output_shape``, ``group = 1``): their sparse matrices for the input
  shape the model declares (:mod:`solver.affine`; row-major ``C,
  spatial...`` flattening, the ONNX memory order);
* ``BatchNormalization`` (inference form, ``training_mode = 0``): folded into
  the preceding affine map;
* ``Relu``, ``LeakyRelu`` (``alpha``), ``Sigmoid``, ``Tanh``: close the
  current layer (:func:`solver.activations.from_onnx`);
* ``Flatten``, ``Identity``, ``Reshape`` (``allowzero``), ``Unsqueeze``,
  ``Squeeze``, ``Dropout`` (inference: the identity): no-ops on the flat
  vector (they only change the shape a later convolution sees);
* ``Shape`` of the data (a constant: the shape is declared);
* ``Constant``, graph initializers, and any node whose inputs are all
  constant (evaluated once by ``onnx.reference``, as exporters emit for
  shape arithmetic): constant operands.

Consecutive affine operators are composed into one layer
(:class:`solver.affine.AffineChain`); an activation directly after another
one gives an identity weight matrix; trailing affine operators become a last
layer with the ``identity`` activation.

Anything else raises :class:`solver.errors.InputError` with one line naming the
operator, its node index and its name; so does a file that is not an ONNX
model or whose content is malformed. A leading batch dimension (first
dimension of an input of rank >= 2) is dropped; the network sees one sample.

The weights are converted to binary64 exactly (float32 and float16 values are
binary64 values), so the exact decision is about the model as stored. (The
``optimize=True`` default of ``torch.onnx.export`` folds batch normalization
into the weights in float32: the stored model then differs from the trained
one by that rounding; ``optimize=False`` keeps them apart.)
"""
from __future__ import annotations

import numpy as np

from .activations import ONNX_ACTIVATIONS, from_onnx
from .affine import AffineChain, batchnorm_scale_shift, conv_matrix, conv_transpose_matrix
from .errors import InputError
from .io import existing_file
from .network import make_network

__all__ = ["SUPPORTED", "MAX_FOLDED", "load_onnx"]

SUPPORTED = ("Gemm", "MatMul", "Add", "Conv", "ConvTranspose", "BatchNormalization") + \
    ONNX_ACTIVATIONS + ("Flatten", "Identity", "Reshape", "Unsqueeze", "Squeeze", "Dropout",
                        "Shape", "Constant")

#: constant folding refuses results larger than this (values)
MAX_FOLDED = 10_000_000


def _import_onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:  # pragma: no cover - onnx is a test dependency
        raise InputError("reading .onnx files needs the 'onnx' package "
                         "(pip install 'reluinj[onnx]')") from None
    return onnx, numpy_helper


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


def _ints(vals, where, op, name):
    try:
        return [int(v) for v in vals]
    except (TypeError, ValueError):
        raise InputError(f"{op} at {where}: attribute {name} is not a list of integers") from None


def _conv_geometry(at, w, shape, where, op):
    """strides, dilations, pads, output_padding of a Conv/ConvTranspose node."""
    d = w.ndim - 2
    if d < 1:
        raise InputError(f"{op} at {where}: kernel of shape {w.shape} has no spatial dimension")
    if int(at.get("group", 1)) != 1:
        raise InputError(f"{op} at {where}: group != 1 is not supported")
    if "kernel_shape" in at and _ints(at["kernel_shape"], where, op, "kernel_shape") != \
            list(w.shape[2:]):
        raise InputError(f"{op} at {where}: kernel_shape {list(at['kernel_shape'])} does not "
                         f"match the kernel {list(w.shape[2:])}")
    strides = _ints(at.get("strides", [1] * d), where, op, "strides")
    dil = _ints(at.get("dilations", [1] * d), where, op, "dilations")
    pads = _ints(at.get("pads", [0] * (2 * d)), where, op, "pads")
    outpad = _ints(at.get("output_padding", [0] * d), where, op, "output_padding")
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode(errors="replace") if isinstance(auto, bytes) else str(auto)
    if len(shape) != d + 1:
        raise InputError(f"{op} at {where}: data shape {shape} is not (channels, {d} spatial dims)")
    if len(strides) != d or len(dil) != d or len(outpad) != d:
        raise InputError(f"{op} at {where}: strides/dilations/output_padding need {d} entries")
    if auto in ("SAME_UPPER", "SAME_LOWER") or (op == "ConvTranspose" and "output_shape" in at):
        if min(strides + dil) < 1:
            raise InputError(f"{op} at {where}: strides and dilations must be >= 1")
        pads = [0] * (2 * d)
        for j in range(d):
            n, k = shape[1 + j], dil[j] * (w.shape[2 + j] - 1) + 1
            if op == "Conv":
                o = -(-n // strides[j])
                total = max(0, (o - 1) * strides[j] + k - n)
            else:
                oshape = _ints(at.get("output_shape", []), where, op, "output_shape")
                o = (oshape[-d:][j] if len(oshape) >= d else n * strides[j])
                total = (n - 1) * strides[j] + outpad[j] + k - o
                if total < 0:
                    raise InputError(f"{op} at {where}: output_shape larger than the "
                                     "transposed convolution produces")
            small, big = total // 2, total - total // 2
            # the ONNX rule: the larger half at the end for SAME_UPPER; for
            # ConvTranspose every other case puts it at the start
            upper = auto == "SAME_UPPER" if op == "ConvTranspose" else auto != "SAME_LOWER"
            pads[j], pads[d + j] = (small, big) if upper else (big, small)
    elif auto == "VALID":
        pads = [0] * (2 * d)
    elif auto != "NOTSET":
        raise InputError(f"{op} at {where}: auto_pad {auto!r} is not supported")
    if len(pads) != 2 * d:
        raise InputError(f"{op} at {where}: pads {pads} need {2 * d} entries")
    return strides, dil, pads, outpad


def load_onnx(path):
    """Load an ONNX model file as a :class:`~solver.network.Network`.

    Parameters
    ----------
    path : str or os.PathLike, an ``.onnx`` file.

    Returns
    -------
    Network (activations ``relu``, ``leaky_relu:<alpha>``, ``sigmoid``,
    ``tanh``, ``identity``; convolution layers above
    :data:`solver.io.DENSE_MAX_ENTRIES` entries keep sparse matrices).

    Raises
    ------
    InputError : missing file, not an ONNX model, malformed content,
        unsupported operator (the message names it, with node index and
        name), non-chain graph, shape mismatch, NaN/inf weights.
    """
    onnx, numpy_helper = _import_onnx()
    p = existing_file(path)
    try:
        model = onnx.load(p)
    except Exception as exc:  # protobuf DecodeError, OSError, external data, ...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {p} as ONNX: {msg}") from None
    try:
        return _convert(onnx, numpy_helper, model, p)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            ZeroDivisionError, UnicodeDecodeError, MemoryError) as exc:
        # a file that parses as protobuf but whose tensors or attributes are
        # malformed (wrong raw sizes, bad enum values, ...): bad input
        raise InputError(f"{p}: malformed ONNX model ({type(exc).__name__}: {exc})") from None


def _convert(onnx, numpy_helper, model, p):
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
    if int(np.prod(feat)) > 100_000_000:
        raise InputError(f"{p}: input {inputs[0].name!r} is too large ({dims})")
    ch = AffineChain(feat)
    cur = inputs[0].name
    seen_cur = {cur}

    def const(name, where, op):
        if name in consts:
            a = np.asarray(consts[name])
            if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
                raise InputError(f"{op} at {where}: constant {name!r} contains NaN or inf")
            if a.dtype.kind == "c":
                raise InputError(f"{op} at {where}: constant {name!r} is complex")
            return a
        raise InputError(f"{op} at {where}: operand {name!r} is neither the data tensor "
                         f"nor a constant (only chain-shaped graphs are supported)")

    def fold(node, where):
        """Evaluate a node whose inputs are all constants (onnx.reference)."""
        from onnx.reference import ReferenceEvaluator
        feeds = {nm: consts[nm] for nm in node.input if nm}
        if sum(np.asarray(v).size for v in feeds.values()) > MAX_FOLDED:
            raise InputError(f"{node.op_type} at {where}: constant operands too large to fold")
        try:
            outs = ReferenceEvaluator(node).run(None, feeds)
        except InputError:
            raise
        except Exception as exc:  # the reference implementation refuses the node
            raise InputError(f"{node.op_type} at {where}: cannot evaluate its constant "
                             f"operands ({type(exc).__name__}: {exc})") from None
        for nm, v in zip(node.output, outs):
            if nm:
                v = np.asarray(v)
                if v.size > MAX_FOLDED:
                    raise InputError(f"{node.op_type} at {where}: folded constant too large")
                consts[nm] = v

    def full_shape():
        return ((1,) if batched else ()) + tuple(ch.shape)

    def set_full_shape(shp, where, op):
        shp = [int(v) for v in shp]
        if any(v <= 0 for v in shp):
            raise InputError(f"{op} at {where}: shape {shp} has a dimension <= 0")
        if int(np.prod(shp)) != ch.size:
            raise InputError(f"{op} at {where}: cannot reshape {ch.size} values to {shp}")
        if batched:
            if not shp or shp[0] != 1:
                raise InputError(f"{op} at {where}: the batch dimension must stay first "
                                 f"(shape {shp})")
            shp = shp[1:]
        ch.shape = tuple(shp)

    for idx, node in enumerate(g.node):
        op = node.op_type
        where = _where(idx, node)
        if node.domain not in ("", "ai.onnx"):
            raise InputError(f"unsupported ONNX operator {node.domain}.{op} at {where}")
        at = _attrs(onnx, node)
        if op == "Constant":     # value, value_float(s), value_int(s), ...
            if not node.output or len(node.attribute) != 1:
                raise InputError(f"Constant at {where}: needs one output and one value attribute")
            fold(node, where)
            continue
        ins = list(node.input)
        if cur not in ins and ins and all(nm in consts or not nm for nm in ins):
            fold(node, where)
            continue
        if op not in SUPPORTED:
            raise InputError(f"unsupported ONNX operator {op!r} at {where}; supported: "
                             f"{', '.join(SUPPORTED)}")
        data_pos = [k for k, nm in enumerate(ins) if nm == cur]
        if len(data_pos) != 1 or not node.output:
            uses = [nm for nm in ins if nm in seen_cur]
            raise InputError(f"{op} at {where} does not take the previous output {cur!r} "
                             f"exactly once" + (f" (uses {uses})" if uses else "")
                             + "; only chain-shaped graphs are supported")
        dp = data_pos[0]
        out = node.output[0]
        n = ch.size
        if op == "Shape":           # a constant: the shape is declared
            shp = np.array(full_shape(), dtype=np.int64)
            start, end = int(at.get("start", 0)), at.get("end", None)
            consts[out] = shp[start:None if end is None else int(end)]
            continue               # the data tensor is still `cur`
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
            if not (np.all(np.isfinite(M)) and np.all(np.isfinite(v))):
                raise InputError(f"Gemm at {where}: alpha/beta scaling overflows")
            ch.affine(M, v, (m,))
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
            ch.affine(M, None, (M.shape[0],))
        elif op == "Add":
            c = const(ins[1 - dp], where, op).astype(np.float64)
            if batched and c.ndim == len(ch.shape) + 1 and c.shape[0] == 1:
                c = c[0]      # a bias written with the batch dimension
            try:
                v = np.broadcast_to(c, ch.shape).reshape(-1)
            except ValueError:
                raise InputError(f"Add at {where}: constant of shape {c.shape} does not "
                                 f"broadcast to the data shape {ch.shape}") from None
            ch.shift(v)
        elif op in ("Conv", "ConvTranspose"):
            if dp != 0 or len(ins) < 2:
                raise InputError(f"{op} at {where}: the data must be the first input, "
                                 "the kernel the second")
            w = const(ins[1], where, op).astype(np.float64)
            strides, dil, pads, outpad = _conv_geometry(at, w, ch.shape, where, op)
            if op == "Conv":
                Wc, oshape = conv_matrix(w, ch.shape, strides=strides, pads=pads,
                                         dilations=dil, where=where)
            else:
                Wc, oshape = conv_transpose_matrix(w, ch.shape, strides=strides, pads=pads,
                                                   dilations=dil, output_padding=outpad,
                                                   where=where)
            bias = None
            if len(ins) > 2 and ins[2]:
                B = const(ins[2], where, op).astype(np.float64).reshape(-1)
                if B.size != oshape[0]:
                    raise InputError(f"{op} at {where}: bias has {B.size} entries for "
                                     f"{oshape[0]} output channels")
                bias = np.repeat(B, int(np.prod(oshape[1:])))
            ch.affine(Wc, bias, oshape)
        elif op == "BatchNormalization":
            if dp != 0 or len(ins) != 5:
                raise InputError(f"BatchNormalization at {where}: expected inputs (X, scale, "
                                 "B, mean, var) with the data first")
            if int(at.get("training_mode", 0)) != 0:
                raise InputError(f"BatchNormalization at {where}: training_mode = 1 (only "
                                 "the inference form is supported: export in eval mode)")
            if any(o for o in node.output[1:]):
                raise InputError(f"BatchNormalization at {where}: running-statistics outputs "
                                 "are not supported (export in eval mode)")
            if not ch.shape:
                raise InputError(f"BatchNormalization at {where}: data has no channel axis")
            sc, bi, mu, var = (const(nm, where, op) for nm in ins[1:])
            s_, t_ = batchnorm_scale_shift(sc, bi, mu, var, at.get("epsilon", 1e-5), ch.shape,
                                           where=where)
            ch.scale_shift(s_, t_)
        elif op in ONNX_ACTIVATIONS:
            ch.activation(from_onnx(op, at, where))
        elif op == "Flatten":
            ch.shape = (n,)
        elif op == "Dropout":
            if len(ins) > 2 and ins[2] and bool(np.asarray(const(ins[2], where, op)).reshape(-1)[0]):
                raise InputError(f"Dropout at {where}: training_mode is true (export in eval "
                                 "mode)")
            if any(o for o in node.output[1:]):
                raise InputError(f"Dropout at {where}: the mask output is not supported")
        elif op == "Identity":
            pass
        elif op == "Reshape":
            if len(ins) < 2 or dp != 0:
                raise InputError(f"Reshape at {where}: expected (data, shape)")
            target = [int(s) for s in const(ins[1], where, op).reshape(-1)]
            full = list(full_shape())
            if not int(at.get("allowzero", 0)):
                target = [full[k] if (t == 0 and k < len(full)) else t
                          for k, t in enumerate(target)]
            if target.count(-1) > 1:
                raise InputError(f"Reshape at {where}: more than one -1 in shape {target}")
            if -1 in target:
                rest = int(np.prod([t for t in target if t != -1]))
                if rest <= 0 or n % rest:
                    raise InputError(f"Reshape at {where}: cannot reshape {n} values to {target}")
                target[target.index(-1)] = n // rest
            set_full_shape(target, where, op)
        elif op in ("Unsqueeze", "Squeeze"):
            if dp != 0:
                raise InputError(f"{op} at {where}: the data must be the first input")
            if len(ins) > 1 and ins[1]:
                axes = [int(a) for a in const(ins[1], where, op).reshape(-1)]
            else:
                axes = _ints(at.get("axes", []), where, op, "axes")
            full = list(full_shape())
            if op == "Unsqueeze":
                r = len(full) + len(axes)
                axes = sorted(a + r if a < 0 else a for a in axes)
                if any(not 0 <= a < r for a in axes) or len(set(axes)) != len(axes):
                    raise InputError(f"Unsqueeze at {where}: bad axes for rank {len(full)}")
                for a in axes:
                    full.insert(a, 1)
            else:
                r = len(full)
                axes = sorted({a + r if a < 0 else a for a in axes}) if axes else \
                    [k for k, v in enumerate(full) if v == 1 and not (batched and k == 0)]
                if any(not 0 <= a < r or full[a] != 1 for a in axes):
                    raise InputError(f"Squeeze at {where}: axes {axes} are not of size 1")
                full = [v for k, v in enumerate(full) if k not in axes]
            set_full_shape(full, where, op)
        cur = out
        seen_cur.add(cur)
    outs = [o.name for o in g.output]
    if outs != [cur]:
        raise InputError(f"{p}: graph output {outs} is not the end of the chain ({cur!r})")
    ch.finish()
    if not ch.weights:
        raise InputError(f"{p}: the model has no layers")
    return make_network(ch.weights, ch.biases, ch.acts)
