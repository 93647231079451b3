"""``check_network``: injectivity of multi-layer networks, with proofs.

A network is ``N(z) = act_L(W_L ... act_1(W_1 z + b_1) ... + b_L)``
(:mod:`solver.network`). The verdicts mean what they say:

* ``injective``: proved on the whole input domain (R^n, or the non-negative
  orthant with ``domain="nonneg"``);
* ``injective_on_box``: proved on the box ``[-R, R]^n`` (``[0, R]^n`` for
  ``nonneg``) given by ``box=R``;
* ``not_injective``: exact rational ``z1 != z2`` with ``N(z1) == N(z2)``,
  checked through every layer and activation (:meth:`Network.check_witness`);
* ``unknown``: nothing proved (limits, or only a MILP that found nothing).

How (in this order)
-------------------
1. **Layerwise** (Corollary 1 of Puthawala et al.: injective layers compose
   to an injective network). The first layer is decided on the input
   domain; a later layer on the non-negative orthant when the previous
   activation is ReLU (Remark 1: its inputs are >= 0) or sigmoid (inputs
   in (0, 1)^n, inside the orthant), else on R^n (tanh: (-1, 1)^n).
   Deciding on a superset of the inputs' set is sound for ``injective``.
   ReLU layers: :func:`solver.check_layer` (R^n, certificate) and
   :func:`check_layer_nonneg` (orthant, certificate). Layers with a
   strictly increasing activation (leaky ReLU, identity, sigmoid, tanh):
   exact column rank (see :func:`decide_bijective_layer`).
2. **First-layer witness.** ``L1(z1) == L1(z2)`` gives ``N(z1) == N(z2)``.
3. **End to end**, when a later layer fails even on its restricted domain:
   the network may still be injective because the range of the earlier
   layers avoids the bad cells.

   * ``regions`` (small networks, sound both ways): enumerate the
     full-dimensional activation regions of N in the domain (every pruned
     branch proved empty exactly); on the closure of each region N is one
     affine map, and the closures cover the domain. For every pair of
     regions one LP asks for ``z1 != z2`` in the two closures with equal
     outputs; a positive answer is turned into an exact point and checked,
     a negative one is certified by exact LP duality (Farkas / bound
     multipliers re-derived in rational arithmetic and checked). So
     ``injective`` / ``injective_on_box`` from here are proofs.
   * ``milp`` (any size, witnesses only): two copies of N in one MILP over
     the box, big-M constants from bound propagation over the box
     (:mod:`solver.bounds`), ``||z1 - z2||_inf >= delta`` with binaries, equal
     outputs. A candidate is refined on the activation patterns it shows
     (an LP on the pair of closed regions, made exact) and checked exactly.
     A MILP that finds nothing proves nothing: it has solver tolerances, a
     box and a minimal separation; the verdict stays ``unknown`` and the
     message says what was searched. Default search box ``DEFAULT_BOX``
     (10), default ``delta = 1e-3 R``; a candidate whose patterns hold no
     exact pair is cut off and the MILP re-solved (5 rounds at most).

   Both run on the piecewise linear core: a sigmoid or tanh last layer is
   strictly increasing, so ``N(z1) = N(z2)`` iff its pre-activations are
   equal, and it is replaced by the identity (the verdict is unchanged);
   a sigmoid or tanh layer before the last one stops this step (named in
   the message: ``unknown``).

   With a box, a first-layer witness outside it is rescaled into it when the
   network has no biases (``N(t z) = t N(z)``); otherwise it answers the R^n
   question only, is kept in ``stats["witness_outside_box"]``, and the box
   question goes on to the end-to-end search.

Cost
----
Layer decisions are exponential in the worst case (coNP-complete). The
region method needs R regions and up to R(R+1)/2 pair questions (pairs whose
certified output intervals are disjoint are skipped): small networks only
(under ``method="auto"``: n <= 6, <= 64 hidden units, <= 400 regions).

References
----------
Puthawala, Kothari, Lassas, Dokmanić, de Hoop, *Globally injective ReLU
networks*, JMLR 2022: Theorem 1, Remark 1, Corollary 1.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from .. import exact
from ..deadline import Deadline
from ..errors import InputError
from ..result import LayerResult, Verdict, Witness
from .layerwise import decide_bijective_layer, decide_large_layer
from .model import Network
from .orthant import check_layer_nonneg
from .pairmilp import search_pair_milp
from .regions import MAX_REGIONS, decide_by_regions
from .result import NetworkResult

__all__ = ["check_network", "DOMAINS", "DEFAULT_BOX", "MILP_MAX_UNITS", "WITNESS_ONLY_SECONDS"]

DOMAINS = ("all", "nonneg")
DEFAULT_BOX = 10.0          # search box of the MILP when no --box is given
MILP_MAX_UNITS = 5000       # the two-copy MILP is not built for more units than this
WITNESS_ONLY_SECONDS = 30.0  # first-layer witness search when nothing else can settle it


def _domain_text(domain, n):
    return f"R^{n}" if domain == "all" else f"[0, inf)^{n}"


def _input_set(network, k, domain, box):
    """The set layer ``k``'s inputs come from, as text: the (boxed) input
    domain for the first layer, the range of the previous activation after."""
    n = network.layers[k].W.shape[1]
    if k > 0:
        return network.layers[k - 1].activation.output_set(n)
    if box is not None:
        return f"[{'0' if domain == 'nonneg' else f'{-box:g}'}, {box:g}]^{n}"
    return _domain_text(domain, n)


def _layer_report(k, L, domain, res, input_set, skipped=False):
    """One entry of ``NetworkResult.layers``: what was decided about layer
    ``k`` and on which set. ``domain`` is where it was decided (``all`` or
    ``nonneg``, a superset of ``input_set``, the set its inputs come
    from); ``proved`` says in words what was proved, or is None."""
    m, n = L.W.shape
    base = {"index": k, "shape": [m, n], "activation": str(L.activation),
            "input_set": input_set, "domain": domain}
    if skipped:
        return {**base, "verdict": "skipped", "method": None, "seconds": 0.0, "proved": None,
                "message": "not needed: the network verdict was already settled"}
    proved = None
    if res.verdict is Verdict.INJECTIVE:
        proved = f"injective on {_domain_text(domain, n)}"
    elif res.verdict is Verdict.NOT_INJECTIVE:
        proved = f"not injective on {_domain_text(domain, n)} (exact witness)"
    elif getattr(res, "proved", None):
        proved = res.proved
    return {**base, "verdict": res.verdict.value, "method": res.method, "proved": proved,
            "seconds": round(res.seconds, 6), "message": res.message}


def _homogeneous(network):
    """``N(t z) = t N(z)`` up to an injective head: no biases, piecewise
    linear activations (positively homogeneous) except perhaps a strictly
    increasing last one, whose outputs are equal iff its pre-activations
    are. Then ``N(z1) = N(z2)`` implies ``N(t z1) = N(t z2)`` for t > 0."""
    last = len(network.layers) - 1
    return all(not np.any(L.b) and (L.activation.piecewise_linear
                                    or (k == last and L.activation.injective))
               for k, L in enumerate(network.layers))


def _piecewise_linear_core(network):
    """The network with a strictly increasing, not piecewise linear head
    (sigmoid, tanh) replaced by the identity: ``N(z1) = N(z2)`` iff the
    core's outputs (the head's pre-activations) are equal, so both have
    the same pairs with equal outputs. Other networks are returned as they
    are."""
    from ..activations import IDENTITY
    from .model import DenseLayer
    L = network.layers[-1]
    if L.activation.piecewise_linear or not L.activation.injective:
        return network
    return Network(network.layers[:-1] + (DenseLayer(L.W, L.b, IDENTITY),))


def _in_box(z, domain, box):
    if domain == "nonneg" and any(v < 0 for v in z):
        return False
    if box is None:
        return True
    R = Fraction(float(box))
    return all(-R <= v <= R for v in z)


def check_network(network, *, time_limit=None, box=None, backend=None, domain="all",
                  method="auto", max_regions=None, delta=None,
                  report_all_layers=False) -> NetworkResult:
    """Decide whether a network ``z -> N(z)`` is injective, with a proof.

    Parameters
    ----------
    network : :class:`solver.network.Network`, or a path (``.npz`` / ``.onnx``)
        for :func:`solver.network_io.load_network`.
    time_limit : seconds or None (``unknown`` when it runs out; the MILP
        search then gets 60 s at most).
    box : R > 0 or None. Restrict the question to ``[-R, R]^n``
        (``[0, R]^n`` with ``domain="nonneg"``); a proof there is reported as
        ``injective_on_box``. Also the MILP search box (default
        ``DEFAULT_BOX``).
    backend : MILP engine name for the end-to-end witness search
        (:mod:`solver.backends`; default ``DEFAULT_BACKEND``).
    domain : ``"all"`` (R^n) or ``"nonneg"`` (inputs ``z >= 0``, Remark 1).
    method : ``"auto"`` (layerwise, then ``regions`` for small networks, then
        ``milp``), ``"layerwise"`` (no end-to-end search), ``"regions"`` or
        ``"milp"`` (end-to-end part forced).
    max_regions : cap for the region enumeration (default: 400 under
        ``auto``, ``MAX_REGIONS`` under ``regions``).
    delta : MILP minimal separation ``||z1 - z2||_inf`` (default
        ``1e-3 * R``).
    report_all_layers : decide every layer even when a first-layer witness
        already settles the network (for the per-layer report).

    Returns
    -------
    NetworkResult. ``not_injective`` carries ``z1 != z2`` (exact rationals)
    with ``N(z1) == N(z2)`` checked exactly through every layer (and
    ``z1, z2 >= 0`` for ``nonneg``); ``injective`` / ``injective_on_box`` is
    proved: layer certificates (Corollary 1) or the exact region argument.

    Raises
    ------
    InputError for bad models and options.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, JMLR 2022,
    Theorem 1, Remark 1, Corollary 1.

    Examples
    --------
    >>> import numpy as np
    >>> from solver.network import make_network
    >>> B = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> net = make_network([np.vstack([B, -B]), np.eye(4)])   # ReLU(I ReLU(W z))
    >>> r = check_network(net)
    >>> r.verdict.value, [L["domain"] for L in r.layers]
    ('injective', ['all', 'nonneg'])
    """
    start = time.monotonic()
    network, box = _validated(network, domain, method, time_limit, box, delta)
    run = _Run(network, domain, box, Deadline.after(time_limit, start), start, report_all_layers)
    plan = _Plan.of(network, method)
    settled = run.layerwise(plan, time_limit)                   # 1, 2 (Corollary 1)
    if settled is None and not run.failing:
        settled = run.result("injective", None, "layerwise",
                             "every layer is injective on the set its inputs come from "
                             "(Corollary 1; inputs after relu or sigmoid are >= 0, Remark 1)")
    settled = settled or run.end_to_end_blocked(plan)            # why 3 cannot run
    msgs = []
    if settled is None and plan.regions_possible:
        settled = run.by_regions(plan, max_regions, msgs)        # 3, exact
    if settled is None:
        settled = run.by_milp(plan, backend, delta, msgs)        # 3, witnesses only
    return settled or run.unknown_end_to_end(msgs)


def _validated(network, domain, method, time_limit, box, delta):
    """The network (loaded if a path) and the box, or InputError."""
    if not isinstance(network, Network):
        from ..network_io import load_network
        network = load_network(network)
    if domain not in DOMAINS:
        raise InputError(f"domain must be one of {', '.join(DOMAINS)}; got {domain!r}")
    if method not in ("auto", "layerwise", "regions", "milp"):
        raise InputError(f"method must be auto, layerwise, regions or milp; got {method!r}")
    from ..deadline import validate_time_limit
    validate_time_limit(time_limit)
    if box is not None:
        from ..io import validate_box
        box = validate_box(box)
    if delta is not None and not (float(delta) > 0):
        raise InputError(f"delta must be positive; got {delta!r}")
    return network, box


@dataclass(frozen=True)
class _Plan:
    """What the end-to-end step (3) can do, decided from the network's shape
    before anything runs: it works on the piecewise linear ``core`` (a
    sigmoid/tanh head replaced by the identity: the same pairs have equal
    outputs); ``smooth`` lists the layers of the core that stop it."""
    method: str
    core: Network
    smooth: tuple
    small: bool
    regions_possible: bool
    milp_refused: str | None

    @classmethod
    def of(cls, network, method):
        core = _piecewise_linear_core(network)
        smooth = tuple(k for k, L in enumerate(core.layers) if not L.activation.piecewise_linear)
        small = network.n_in <= 6 and sum(L.W.shape[0] for L in network.layers[:-1]
                                          if not L.activation.is_identity) <= 64
        regions_possible = (not smooth and method != "layerwise"
                            and (method == "regions" or (method == "auto" and small)))
        units = sum(L.W.shape[0] for L in core.layers if not L.activation.is_identity)
        sparse = [k for k, L in enumerate(core.layers) if L.is_sparse]
        milp_refused = None
        if method in ("auto", "milp") and (sparse or units > MILP_MAX_UNITS):
            milp_refused = ("the two-copy MILP was not run: "
                            + (f"layer {sparse[0]} is a sparse "
                               f"{core.layers[sparse[0]].W.shape[0]}x"
                               f"{core.layers[sparse[0]].W.shape[1]} matrix, " if sparse else "")
                            + f"{units:,} units with activations (limit {MILP_MAX_UNITS:,})")
        return cls(method, core, smooth, small, regions_possible, milp_refused)


class _Run:
    """The state of one :func:`check_network` call: the layers decided so
    far (``decided``: index -> (domain, LayerResult)), the failing ones, the
    counters, and the one deadline; each step of the decision is a method."""

    def __init__(self, network, domain, box, deadline, start, report_all_layers):
        self.network, self.layers = network, network.layers
        self.domain, self.box = domain, box
        self.deadline, self.start = deadline, start
        self.report_all_layers = report_all_layers
        self.decided, self.stats, self.failing = {}, {}, []

    # -- results -----------------------------------------------------------

    def result(self, verdict, witness, meth, msg, proof=None):
        reports, results = [], []
        for k in range(len(self.layers)):
            if k not in self.decided and self.report_all_layers:
                self.decided[k] = self.decide_layer(k)
            if k in self.decided:
                dom, res = self.decided[k]
                reports.append(_layer_report(k, self.layers[k], dom, res, self.input_set(k)))
                results.append(res)
            else:
                reports.append(_layer_report(k, self.layers[k], None, None, self.input_set(k),
                                             skipped=True))
                results.append(None)
        return NetworkResult(Verdict(verdict), Witness.of(witness), meth,
                             time.monotonic() - self.start, msg, tuple(reports), self.domain,
                             self.box, tuple(results), self.stats, proof)

    def witness_result(self, pair, meth, msg):
        """``not_injective`` for an exact pair checked through every layer, or
        None when the pair lies outside the box and cannot be rescaled into
        it (it answers the R^n question only: kept in ``stats``)."""
        network, domain, box = self.network, self.domain, self.box
        z1, z2 = [Fraction(v) for v in pair[0]], [Fraction(v) for v in pair[1]]
        ok, why = network.check_witness(z1, z2)
        if not ok:
            raise AssertionError(f"internal: unverified network witness ({why})")
        if not (_in_box(z1, domain, box) and _in_box(z2, domain, box)):
            if domain == "nonneg" and (any(v < 0 for v in z1) or any(v < 0 for v in z2)):
                raise AssertionError("internal: witness outside the non-negative orthant")
            if _homogeneous(network):
                # N(t z) = t N(z) for t > 0 when there are no biases (_homogeneous)
                top = max(abs(v) for v in z1 + z2)
                t = Fraction(float(box)) / top
                z1, z2 = [t * v for v in z1], [t * v for v in z2]
                ok, why = network.check_witness(z1, z2)
                if not ok:
                    raise AssertionError(f"internal: rescaled witness failed ({why})")
                msg += "; rescaled into the box (no biases: N(t z) = t N(z))"
            else:
                self.stats["witness_outside_box"] = {
                    "z1": [exact.fmt_rational(v) for v in z1],
                    "z2": [exact.fmt_rational(v) for v in z2]}
                return None     # answers R^n, not the box question: keep going
        return self.result("not_injective", (z1, z2), meth, msg + " (checked exactly through "
                           "every layer)")

    def input_set(self, k):
        return _input_set(self.network, k, self.domain, self.box)

    def reasons(self, ks):
        return ", ".join(f"layer {k} {self.decided[k][1].verdict.value}"
                         + (f" ({self.decided[k][1].message})"
                            if self.decided[k][1].verdict is Verdict.UNKNOWN else "")
                         for k in sorted(ks))

    # -- 1. layerwise --------------------------------------------------------

    def decide_layer(self, k, cap=None):
        """Decide layer k on a superset of the set its inputs come from: the
        domain for the first layer; after it, the orthant when the previous
        activation is >= 0 (relu: Remark 1; sigmoid: (0, 1)^n is inside
        it), else R^n (tanh's (-1, 1)^n, leaky, identity). ``cap``: at most
        this many seconds for a sign-tree search."""
        layers = self.layers
        L = layers[k]
        if k == 0:
            dom = self.domain
        else:
            dom = "nonneg" if layers[k - 1].activation.nonneg_output else "all"
        if L.is_sparse:
            res = decide_large_layer(L.W, L.b, L.activation, domain=dom)
        elif not L.activation.is_relu:
            res = decide_bijective_layer(L.W, L.b, L.activation, domain=dom)
        else:
            from ..layer import check_layer
            budget = self.deadline.remaining()
            if cap is not None:
                budget = cap if budget is None else min(cap, budget)
            until = None if budget is None else time.monotonic() + budget
            if dom == "all":
                res = check_layer(L.W, L.b, time_limit=budget)
            else:
                share = None if budget is None else 0.5 * budget
                res = check_layer(L.W, L.b, time_limit=share)
                if res.verdict is Verdict.INJECTIVE:
                    dom = "all"       # stronger than needed
                else:
                    first = res
                    rest = None if until is None else max(0.0, until - time.monotonic())
                    res = check_layer_nonneg(L.W, L.b, time_limit=rest)
                    if res.verdict is Verdict.UNKNOWN and first.verdict is Verdict.UNKNOWN:
                        res = LayerResult(Verdict.UNKNOWN, None, res.method, first.seconds +
                                          res.seconds, f"R^n: {first.message}; orthant: "
                                          f"{res.message}", res.m, res.n, None, res.stats)
        return dom, res

    def layerwise(self, plan, time_limit):
        """Steps 1 and 2 (Corollary 1): the cheap decisions first (exact rank,
        sparse layers), then the sign-tree searches for ReLU layers, which
        share what time is left. Once a layer has failed and the region
        method cannot run, no later decision can prove the network
        injective: later tree layers are not searched, and the first layer
        only for a witness (at most WITNESS_ONLY_SECONDS without a time
        limit). Returns the result when a first-layer witness settles the
        network, else None (``self.failing`` lists the failed layers)."""
        layers, failing = self.layers, self.failing
        order = sorted(range(len(layers)),
                       key=lambda k: layers[k].activation.is_relu and not layers[k].is_sparse)
        for k in order:
            tree = layers[k].activation.is_relu and not layers[k].is_sparse
            cap = None
            if tree and failing and not plan.regions_possible and not self.report_all_layers:
                if k > 0:
                    m, n = layers[k].W.shape
                    dom = "nonneg" if layers[k - 1].activation.nonneg_output else "all"
                    self.decided[k] = (dom, LayerResult(
                        Verdict.UNKNOWN, None, "not-run", 0.0,
                        f"not searched: the network cannot be proved injective any more "
                        f"(layer {min(failing)} failed; no end-to-end proof for this "
                        f"network)", m, n))
                    failing.append(k)
                    continue
                if time_limit is None:
                    cap = WITNESS_ONLY_SECONDS
            dom, res = self.decide_layer(k, cap)
            if cap is not None and res.verdict is Verdict.UNKNOWN:
                res = replace(res, message=f"{res.message}; searched for a witness for "
                              f"{cap:g} s only, since the other layers leave no proof of "
                              f"injectivity: use --time-limit to search longer")
            self.decided[k] = (dom, res)
            if k == 0 and res.verdict is Verdict.NOT_INJECTIVE:
                out = self.witness_result((res.witness.x1, res.witness.x2), "first-layer",
                                          "the first layer is not injective"
                                          + (" on the non-negative orthant"
                                             if dom == "nonneg" else "")
                                          + "; its witness is a network witness")
                if out is not None:
                    return out
            if res.verdict is not Verdict.INJECTIVE:
                failing.append(k)
        return None

    # -- 3. end to end, on the piecewise linear core -------------------------

    def end_to_end_blocked(self, plan):
        """``unknown`` when step 3 cannot run (not asked for, a smooth layer
        inside the network, too large for both methods, no time left), else
        None."""
        why = self.reasons(self.failing)
        if plan.method == "layerwise":
            return self.result("unknown", None, "layerwise",
                               f"not proved layerwise ({why}); end-to-end search not run")
        if plan.smooth:
            k = plan.smooth[0]
            return self.result(
                "unknown", None, "layerwise",
                f"not proved layerwise ({why}); end-to-end search not available: layer "
                f"{k} is {self.layers[k].activation} inside the network (regions and the "
                "MILP need relu, identity or leaky_relu before the last layer)")
        if plan.milp_refused and not plan.regions_possible:
            return self.result(
                "unknown", None, "layerwise",
                f"not proved layerwise ({why}); end-to-end search not available: "
                f"activation regions need n <= 6 inputs and <= 64 hidden units; "
                f"{plan.milp_refused}")
        if self.deadline.expired():
            return self.result("unknown", None, "layerwise",
                               f"not proved layerwise ({why}); end-to-end search not run "
                               "(time limit)")
        return None

    def by_regions(self, plan, max_regions, msgs):
        """Exact end-to-end decision over the activation regions
        (:func:`decide_by_regions`): a result, or None with the reason
        appended to ``msgs``."""
        why = self.reasons(self.failing)
        cap = max_regions or (MAX_REGIONS if plan.method == "regions" else 400)
        v, w, msg, st = decide_by_regions(plan.core, domain=self.domain, box=self.box,
                                          time_limit=self.deadline.remaining(), max_regions=cap)
        regions_proof = st.pop("proof", None)
        self.stats["regions"] = st
        if v == "not_injective":
            out = self.witness_result(w, "regions", f"layerwise failed ({why}); end to end: {msg}")
            if out is not None:
                return out
        if v in ("injective", "injective_on_box"):
            extra = ""
            if "witness_outside_box" in self.stats:
                extra = ("; not injective on the whole domain (exact witness outside the box "
                         "in stats['witness_outside_box'])")
            return self.result(v, None, "regions",
                               f"layerwise failed ({why}), but end to end: {msg}{extra}",
                               proof=regions_proof)
        msgs.append(f"regions: {msg}")
        return None

    def by_milp(self, plan, backend, delta, msgs):
        """The two-copy MILP witness search (:func:`search_pair_milp`): a
        ``not_injective`` result, or None with what was searched appended to
        ``msgs`` (finding nothing proves nothing)."""
        if plan.milp_refused:
            msgs.append(plan.milp_refused)
            return None
        if plan.method not in ("auto", "milp") or self.deadline.expired():
            return None
        why = self.reasons(self.failing)
        domain, box = self.domain, self.box
        R = box if box is not None else DEFAULT_BOX
        budget = self.deadline.remaining()
        budget = 60.0 if budget is None else budget
        try:
            w, info = search_pair_milp(plan.core, box=R, domain=domain, delta=delta,
                                       backend=backend, time_limit=budget)
        except ImportError as exc:
            info = {"milp_error": f"MILP backends unavailable: {exc}"}
            w = None
        self.stats["milp"] = info
        if w is not None:
            out = self.witness_result(w, "milp", f"layerwise failed ({why}); a two-copy MILP "
                                      f"candidate was refined to an exact pair")
            if out is not None:
                return out
        if "milp_error" in info:
            msgs.append(info["milp_error"])
            return None
        lo_txt = "0" if domain == "nonneg" else f"{-R:g}"
        where = f"[{lo_txt}, {R:g}]^{self.network.n_in}"
        st = info.get("milp_status")
        if "milp_candidate" in info:
            msgs.append(f"the MILP over {where} proposed a pair (status {st}) but its "
                        f"activation patterns hold no exact pair ({info['milp_candidate']})")
        elif st == "infeasible":
            msgs.append(f"the MILP over {where} found no pair with ||z1 - z2||_inf >= "
                        f"{info['milp_delta']:g}: that holds to solver tolerance only and "
                        f"is not a proof")
        else:
            msgs.append(f"the MILP over {where} stopped without a candidate (status {st})")
        return None

    def unknown_end_to_end(self, msgs):
        if "witness_outside_box" in self.stats:
            msgs.append("not injective on the whole domain: an exact witness outside the box "
                        "is in stats['witness_outside_box']")
        return self.result("unknown", None, "end-to-end",
                           f"not proved layerwise ({self.reasons(self.failing)}); "
                           + "; ".join(msgs))
