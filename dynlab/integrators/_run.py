"""``run``: validate, allocate, drive a scheme's kernel in chunks, and return a typed record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .. import config
from .._validate import as_array, as_positive_int, as_psd, as_seed_sequence
from ..errors import HyperparameterError, ShapeError, StabilityRegionError
from ..hyper import HeavyBall
from ..models import LinearRegressionProblem, QuadraticProblem
from ..progress import progress
from ._base import SCHEMES
from ._ops import Draws, Loss, Rec
from ._record import Record, Recording
from ._rng import seed_states
from ._sampling import SAMPLING, initial_epoch, sampling_code

__all__ = ["Recording", "Record", "run", "normals_shape"]

#: Steps per kernel call (rounded to whole recording intervals): the progress-bar granularity.
_CHUNK_STEPS = 4096


def _blocks(M: int, n_threads: int) -> list[tuple[int, int]]:
    """Contiguous blocks of paths, one per worker thread (a path's numbers do not depend on it)."""
    edges = np.linspace(0, M, min(M, n_threads) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _initial(x, name: str, M: int, d: int) -> np.ndarray:
    if x is None:
        return np.zeros((M, d))
    a = as_array(x, name)
    if a.shape == (d,):
        return np.repeat(a[None, :], M, axis=0)
    if a.shape == (M, d):
        return np.array(a, dtype=np.float64, order="C")
    raise ShapeError(f"{name} must have shape ({d},) or (n_paths, d) = ({M}, {d}); got {a.shape}")


def _loss_bundle(problem, blas: bool) -> Loss:
    d = problem.d
    if isinstance(problem, LinearRegressionProblem):
        X, Y = problem.X, problem.Y
    else:
        X, Y = np.zeros((0, d)), np.zeros(0)
    return Loss(
        np.ascontiguousarray(problem.H),
        np.ascontiguousarray(problem.b),
        float(problem.c),
        np.ascontiguousarray(X),
        np.ascontiguousarray(Y),
        blas,
    )


def _draws_bundle(scheme, ss, M, n_steps, normals, batches, sampling) -> Draws:
    n_slots, dn, F = scheme.noise()
    S = scheme.batch_rows()
    N = scheme.problem.N if S else 0
    mode = sampling_code(sampling)
    if not S and sampling != SAMPLING[0]:
        raise HyperparameterError(
            f"scheme {scheme.name!r} draws no minibatch rows here; sampling={sampling!r} needs "
            "a LinearRegressionProblem and a minibatch scheme"
        )
    if normals is None:
        normals = np.zeros((0, 0, 0, 0))
    else:
        normals = as_array(normals, "normals", shape=(n_steps, n_slots, M, dn))
    if batches is None:
        batches = np.zeros((0, 0, 0), dtype=np.int64)
    else:
        if not S:
            raise ShapeError(
                f"scheme {scheme.name!r} draws no minibatch rows here; batches must be None"
            )
        b = np.asarray(batches)
        if b.shape != (n_steps, M, S) or not np.issubdtype(b.dtype, np.integer):
            raise ShapeError(
                f"batches must be integers of shape {(n_steps, M, S)}; got {b.dtype} {b.shape}"
            )
        if b.size and (b.min() < 0 or b.max() >= N):
            raise ShapeError(f"batches must hold row indices in [0, {N})")
        batches = np.ascontiguousarray(b, dtype=np.int64)
    Z = np.zeros((M, n_slots, dn))
    return Draws(
        seed_states(ss, M),
        np.ascontiguousarray(normals),
        batches,
        mode,
        *initial_epoch(N, M),
        np.zeros((0, 0)) if F is None else np.ascontiguousarray(F),
        Z,
        Z if F is None else np.zeros((M, n_slots, dn)),
        np.zeros((M, S), dtype=np.int64),
    )


def _rec_bundle(scheme, recording: Recording, theta, n_steps) -> Rec:
    M, d = theta.shape
    every = as_positive_int(recording.every, "record.every", error=ShapeError)
    R = n_steps // every
    if recording.basis is None:
        basis = np.zeros((d, 0))
    else:
        basis = as_array(recording.basis, "record.basis")
        if basis.ndim == 1:
            basis = basis[:, None]
        if basis.ndim != 2 or basis.shape[0] != d:
            raise ShapeError(f"record.basis must have shape (d, p) with d = {d}; got {basis.shape}")
        basis = np.ascontiguousarray(basis)
    p = basis.shape[1]
    R_energy = R if scheme.hamiltonian else 0
    R_traj = R if recording.trajectories else 0
    return Rec(
        every,
        basis,
        scheme.recorded_inv_mass(),
        scheme.params.get("weight_decay", 0.0),
        theta.copy(),
        np.zeros((M, d)),
        np.zeros(M),
        np.zeros((M, d)),
        np.zeros((R, M)),
        np.zeros((R, M)),
        np.zeros((R, M)),
        np.zeros((R, M, p)),
        np.zeros((R, M, p)),
        np.zeros((R_energy, M)),
        np.zeros((R_energy, M)),
        np.zeros((R if scheme.capped else 0, M), dtype=np.int64),
        np.zeros((R_traj, M, d)),
        np.zeros((R_traj, M, d)),
    )


def _hyper_values(scheme: str, hp, values: dict) -> dict:
    """The scheme's hyperparameter values: ``values``, plus the fields of a HeavyBall ``hp``."""
    if hp is None:
        return values
    if not isinstance(hp, HeavyBall):
        raise HyperparameterError(
            f"hyper must be a dynlab.hyper.HeavyBall; got {type(hp).__name__}"
        )
    hp.require_scalar(f"scheme {scheme!r}")
    if hp.dampening != 0.0:
        raise HyperparameterError(f"scheme {scheme!r} has no dampening; got {hp.dampening}")
    if hp.nesterov != (scheme == "nesterov"):
        raise HyperparameterError(
            f"hyper has nesterov = {hp.nesterov}: use scheme 'nesterov' exactly when it is True"
        )
    fields = ("lr", "momentum", "weight_decay", "batch_size")
    given = sorted(set(values) & set(fields))
    if given:
        raise HyperparameterError(f"pass either hyper or the keywords {given}, not both")
    takes = SCHEMES[scheme].hyper if scheme in SCHEMES else {}
    return {**values, **{k: getattr(hp, k) for k in fields if k in takes}}


def _scheme(scheme: str, problem, hyper: dict, extra_noise_cov):
    if scheme not in SCHEMES:
        raise ShapeError(f"unknown scheme {scheme!r}; SCHEMES has {sorted(SCHEMES)}")
    if extra_noise_cov is not None and not isinstance(problem, LinearRegressionProblem):
        raise ShapeError(
            "extra_noise_cov is for LinearRegressionProblem; a quadratic has noise_cov"
        )
    if isinstance(problem, QuadraticProblem):
        noise_cov = problem.noise_cov
    elif extra_noise_cov is not None:
        noise_cov = as_psd(extra_noise_cov, "extra_noise_cov", problem.d)
    else:
        noise_cov = None
    return SCHEMES[scheme](problem, hyper, noise_cov)


def normals_shape(
    scheme: str,
    problem,
    *,
    n_paths: int,
    n_steps: int,
    extra_noise_cov=None,
    hyper=None,
    **params,
):
    """Shape ``(n_steps, n_slots, n_paths, dn)`` of the ``normals`` a :func:`run` consumes.

    ``n_slots`` normal vectors of length ``dn`` per path and step (0 slots: none drawn).
    """
    values = _hyper_values(scheme, hyper, params)
    n_slots, dn, _ = _scheme(scheme, problem, values, extra_noise_cov).noise()
    return (n_steps, n_slots, n_paths, dn)


def run(
    scheme: str,
    problem,
    *,
    n_paths: int,
    n_steps: int,
    record: Recording | int = 1,
    seed,
    theta0=None,
    v0=None,
    extra_noise_cov=None,
    normals=None,
    batches=None,
    sampling: str = "reshuffle",
    layout: str = "auto",
    hyper=None,
    **params,
) -> Record:
    """Advance an ensemble of independent trajectories with a scheme of the zoo.

    Parameters
    ----------
    scheme : str
        A key of :data:`SCHEMES` (see ``docs/integrators.md``).
    problem : QuadraticProblem or LinearRegressionProblem
        The loss. A quadratic's gradient noise is ``N(0, noise_cov / batch_size)``; a linear
        regression's minibatches are ``batch_size`` of its rows, drawn as ``sampling`` says.
    n_paths, n_steps : int
        Ensemble size M and number of steps.
    record : Recording or int
        What to record (an int is ``Recording(every=record)``).
    seed : int >= 0, None, numpy.random.Generator or numpy.random.SeedSequence
        Seeds one xoshiro256** stream per path (path i's stream does not depend on n_paths or
        on the number of threads).
    theta0, v0 : (d,) or (n_paths, d) array_like, optional
        Initial states (default 0); e.g. draws from a stationary law.
    extra_noise_cov : (d, d) array_like, optional
        Linear regression only: Gaussian noise ``N(0, extra_noise_cov / batch_size)`` added to
        each minibatch gradient.
    normals : (n_steps, n_slots, n_paths, dn) array_like, optional
        Standard normals to use instead of the generators (common random numbers, coupled
        Brownian paths); ``n_slots, dn`` as documented per scheme.
    batches : (n_steps, n_paths, batch_size) int array_like, optional
        Minibatch rows to use instead of the per-path draws (linear regression).
    sampling : {"reshuffle", "with_replacement", "without_replacement"}
        How a linear regression's minibatch rows are drawn from the path's stream
        (``dynlab.integrators._sampling``): a permutation per epoch cut into ``N // batch_size``
        consecutive batches (the last ``N mod batch_size`` rows of an epoch are skipped), or
        ``batch_size`` i.i.d. rows per step, or ``batch_size`` distinct rows per step drawn
        afresh each step.
    layout : {"auto", "paths", "batched"}
        ``"paths"``: blocks of paths on ``numba.get_num_threads()`` threads, each path through
        all steps of a chunk (no synchronisation); ``"batched"``: all paths step together and
        products over paths are one BLAS GEMM (multi-threaded by BLAS; it stalls when the
        machine is oversubscribed); ``"auto"``: batched iff d >= INTEGRATOR_BLAS_MIN_DIM. The
        numbers agree to rounding (the order of the sums differs).
    hyper : dynlab.hyper.HeavyBall, optional
        The optimizer's lr, momentum, weight_decay and batch_size in one validated object
        (those the scheme takes), instead of the keywords; ``nesterov=True`` goes with scheme
        ``"nesterov"`` only, and no scheme has dampening.
    **params
        The scheme's hyperparameters (``SCHEMES[scheme].hyper``) as keywords.

    Returns
    -------
    Record

    Raises
    ------
    StabilityRegionError
        Up front, if the scheme's step map on the quadratic would amplify the state by more than
        ``config.RUN_GROWTH_MAX`` over ``n_steps`` (:meth:`Scheme.check_stability`); after the
        run, if a trajectory left the finite floats anyway (a scheme without a linear
        condition).
    """
    sch = _scheme(scheme, problem, _hyper_values(scheme, hyper, params), extra_noise_cov)
    M = as_positive_int(n_paths, "n_paths", error=ShapeError)
    K = as_positive_int(n_steps, "n_steps", error=ShapeError)
    if not isinstance(record, Recording):
        record = Recording(every=record)
    ss = as_seed_sequence(seed)
    d = problem.d
    theta = _initial(theta0, "theta0", M, d)
    v = _initial(v0, "v0", M, d)
    state = sch.init_state(theta, v)
    if layout not in ("auto", "paths", "batched"):
        raise ShapeError(f"layout must be 'auto', 'paths' or 'batched'; got {layout!r}")
    batched = d >= config.INTEGRATOR_BLAS_MIN_DIM if layout == "auto" else layout == "batched"
    loss = _loss_bundle(problem, batched)
    draws = _draws_bundle(sch, ss, M, K, normals, batches, sampling)
    rec = _rec_bundle(sch, record, theta, K)
    work = sch.workspace(M)
    sch.check_stability(K)
    chunk = max(rec.every, _CHUNK_STEPS // rec.every * rec.every)
    blocks = _blocks(M, 1 if loss.blas else numba.get_num_threads())
    with (
        ThreadPoolExecutor(max_workers=len(blocks)) as pool,
        progress(total=K, desc=scheme, unit="step") as bar,
    ):
        for k0 in range(0, K, chunk):
            n = min(chunk, K - k0)
            jobs = [
                pool.submit(sch.advance, loss, draws, rec, theta, v, state, work, k0, n, i0, i1)
                for i0, i1 in blocks
            ]
            for job in jobs:
                job.result()
            bar.update(n)
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(v))):
        raise StabilityRegionError(
            f"scheme {scheme!r} diverged: non-finite state after {K} steps with "
            f"{sch.params}; the step size is beyond the stability region"
        )
    R = rec.loss.shape[0]
    return Record(
        scheme=scheme,
        hyper=dict(sch.params),
        seed=ss,
        n_paths=M,
        n_steps=K,
        every=rec.every,
        steps=rec.every * np.arange(1, R + 1),
        loss=rec.loss,
        delta2=rec.delta2,
        Delta2=rec.Delta2,
        theta=theta,
        v=v,
        proj_theta=rec.proj_theta if rec.basis.shape[1] else None,
        proj_v=rec.proj_v if rec.basis.shape[1] else None,
        energy=rec.energy if sch.hamiltonian else None,
        energy_change=rec.energy_change if sch.hamiltonian else None,
        cap=rec.cap if sch.capped else None,
        theta_path=rec.traj_theta if record.trajectories else None,
        v_path=rec.traj_v if record.trajectories else None,
        state=state,
    )
