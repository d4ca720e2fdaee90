"""The per-step record of a resumed run, column by column, against a direct recomputation
with torch.optim.SGD (float64 model: agreement to rounding)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from validation.bridge.data import BatchStream, DeviceData  # noqa: E402
from validation.bridge.model import ResNet18  # noqa: E402
from validation.bridge.records import RUN_COLUMNS, RunRecord  # noqa: E402
from validation.bridge.train import InstrumentedSGD, SGDRun  # noqa: E402

pytestmark = pytest.mark.bridge

EPS64 = float(np.finfo(np.float64).eps)


def _model():
    torch.manual_seed(0)
    return ResNet18(2).to(torch.float64).train()


def test_record_columns_match_a_direct_recomputation():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    data = DeviceData(x, np.arange(16) % 10, "cpu", channels_last=False, dtype=torch.float64)
    stream = BatchStream(data, 4, seed=0, stream=0, augment=False)
    run = SGDRun(
        "t", lr=0.05, momentum=0.9, weight_decay=5e-3, batch_size=4, steps=4, augment=False, seed=0
    )
    model, ref = _model(), _model()
    Q = torch.linalg.qr(
        torch.randn(sum(p.numel() for p in model.parameters()), 2, dtype=torch.float64)
    )[0].T.contiguous()
    sgd = InstrumentedSGD(model, run, Q=Q)
    rows = torch.zeros(run.steps, sgd.ncol, dtype=torch.float64)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-3)
    star = torch.cat([p.detach().reshape(-1) for p in ref.parameters()])
    want = []
    for k in range(run.steps):
        xb, yb = stream.batch(k)
        sgd.step(xb, yb, rows[k])
        theta = torch.cat([p.detach().reshape(-1) for p in ref.parameters()])
        loss = torch.nn.functional.cross_entropy(ref(xb), yb)
        opt.zero_grad()
        loss.backward()
        g = torch.cat([p.grad.reshape(-1) for p in ref.parameters()]) + 5e-3 * theta
        opt.step()
        new = torch.cat([p.detach().reshape(-1) for p in ref.parameters()])
        want.append(
            [
                loss.item(),
                float((new - theta) @ (new - theta)),
                float((new - star) @ (new - star)),
                float((theta - star) @ g),
            ]
        )
    rec = RunRecord.from_array(rows)
    got = np.stack([rec.loss, rec.delta2, rec.Delta2, rec.theta_g], axis=1)
    assert len(RUN_COLUMNS) == 4 and rec.position.shape == (run.steps, 2)
    want = np.array(want)
    # the loss is recorded in float32 (as on the GPU): float32 rounding of a float64 number
    np.testing.assert_allclose(got[:, 0], want[:, 0], rtol=np.finfo(np.float32).eps)
    # float64 model, same operations in another order (flat vs per-tensor): rounding only,
    # relative to the largest entry of the columns
    scale = np.abs(want[:, 1:]).max()
    np.testing.assert_allclose(got[:, 1:], want[:, 1:], rtol=0, atol=1e4 * EPS64 * scale)
    assert np.all(np.abs(got[1:, 3]) > 1e6 * EPS64 * scale)  # theta_g is not trivially 0
