"""Faults of the bridge's state: bit flips, other data or checkpoints on resume, a missed
target accuracy, a reused output folder, other checkpoint layouts."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from validation import resnet_bridge as rb  # noqa: E402
from validation.bridge.checkpoint import StateDir, StateError, load, save  # noqa: E402
from validation.bridge.experiments import _swap_in  # noqa: E402
from validation.bridge.model import ResNet18, standard_state_dict  # noqa: E402
from validation.bridge.run import data_fingerprint  # noqa: E402

pytestmark = pytest.mark.bridge


def _flip_bit(path, byte=-20, bit=6):
    data = bytearray(path.read_bytes())
    data[byte] ^= 1 << bit
    path.write_bytes(bytes(data))


def test_a_flipped_bit_is_caught_and_the_error_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "hessian.pt"
    save(path, {"rho": torch.tensor([2.0, 1.0], dtype=torch.float64)})
    assert load(path)["rho"][0] == 2.0
    _flip_bit(path)  # e.g. an exponent bit of the last float
    with pytest.raises(StateError, match=r"hessian\.pt is corrupt.*delete .*hessian\.pt.*--resume"):
        load(path)
    (tmp_path / "hessian.pt.sha256").unlink()
    with pytest.raises(StateError, match=r"hessian\.pt: no checksum"):
        load(path)


class _Killed(BaseException):
    """Stands for SIGKILL between two writes: nothing after it runs."""


@pytest.mark.parametrize("writes_done", [0, 1, 2, 3])
@pytest.mark.parametrize("had_previous", [True, False])
def test_a_kill_between_the_writes_of_a_save_leaves_a_loadable_pair(
    tmp_path, monkeypatch, writes_done, had_previous
):
    # save() makes three atomic writes; a kill after any number of them must leave either no
    # state file, or the previous one, or the new one -- each with a checksum that verifies.
    import validation.bridge.checkpoint as ck

    path = tmp_path / "run_base_partial.pt"
    old, new = {"step": torch.tensor(25)}, {"step": torch.tensor(50)}
    if had_previous:
        save(path, old)
    done = []

    def counted(write):
        def wrapped(p, data):
            if len(done) == writes_done:
                raise _Killed
            write(p, data)
            done.append(p)

        return wrapped

    monkeypatch.setattr(ck, "atomic_write_bytes", counted(ck.atomic_write_bytes))
    monkeypatch.setattr(ck, "atomic_write_text", counted(ck.atomic_write_text))
    try:
        save(path, new)
    except _Killed:
        pass
    monkeypatch.undo()
    if writes_done < 2:  # the state file itself is the second write
        expected = old if had_previous else None
    else:
        expected = new
    if expected is None:
        assert not path.exists()
    else:
        assert load(path)["step"] == expected["step"]


def test_a_save_killed_after_its_first_write_does_not_bless_a_corrupted_state(
    tmp_path, monkeypatch
):
    # the old state has a flipped bit; a save killed after listing checksums must not list the
    # bad file's own hash (it would then load as valid)
    import validation.bridge.checkpoint as ck

    path = tmp_path / "run_base_partial.pt"
    save(path, {"step": torch.tensor(25)})
    _flip_bit(path)

    def killed(p, data):  # the state file is the save's second write
        raise _Killed

    monkeypatch.setattr(ck, "atomic_write_bytes", killed)
    with pytest.raises(_Killed):
        save(path, {"step": torch.tensor(50)})
    monkeypatch.undo()
    with pytest.raises(StateError, match=r"is corrupt \(its SHA-256 differs"):
        load(path)  # caught by the checksum, not by whether torch can still parse the file


def test_resume_refuses_other_data_or_checkpoint_fingerprints(tmp_path):
    StateDir(tmp_path, {"lr": 1e-3, "data_sha256": "aa", "checkpoint_sha256": None}, resume=False)
    with pytest.raises(StateError, match="data_sha256: saved 'aa', now 'bb'"):
        StateDir(
            tmp_path, {"lr": 1e-3, "data_sha256": "bb", "checkpoint_sha256": None}, resume=True
        )
    with pytest.raises(StateError, match="checkpoint_sha256"):
        StateDir(tmp_path, {"lr": 1e-3, "data_sha256": "aa", "checkpoint_sha256": "c"}, resume=True)
    st = StateDir(
        tmp_path, {"lr": 1e-3, "data_sha256": "aa", "checkpoint_sha256": None}, resume=True
    )
    assert st.run_id == json.loads((tmp_path / "state" / "config.json").read_text())["run_id"]


def test_data_fingerprint_sees_one_changed_pixel():
    class D:
        train_x = np.zeros((4, 32, 32, 3), np.uint8)
        train_y = np.arange(4)
        test_x = np.zeros((2, 32, 32, 3), np.uint8)
        test_y = np.arange(2)

    a = data_fingerprint(D)
    D.train_x = D.train_x.copy()
    D.train_x[3, 31, 31, 2] = 1
    assert data_fingerprint(D) != a


def test_report_folder_is_swapped_whole(tmp_path):
    final, tmp = tmp_path / "report", tmp_path / ".report.tmp"
    final.mkdir()
    (final / "stale_figure.png").write_bytes(b"old run")
    tmp.mkdir()
    (tmp / "report.md").write_text("new run")
    _swap_in(tmp, final)
    assert sorted(os.listdir(final)) == ["report.md"] and not tmp.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_other_cifar_resnet18_layouts_load():
    ref = ResNet18(2)
    sd = ref.state_dict()
    # kuangliu/pytorch-cifar names the classifier 'linear'; DataParallel prefixes 'module.'
    other = {
        "module." + k.replace("fc.", "linear.").replace(".shortcut.", ".downsample."): v
        for k, v in sd.items()
    }
    assert set(other) != set(sd)
    model = ResNet18(2)
    model.load_state_dict(standard_state_dict(other))
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k
    # an ImageNet-style stem (7x7) is refused, naming the key
    bad = dict(sd, **{"conv1.weight": torch.zeros(2, 3, 7, 7)})
    with pytest.raises(RuntimeError, match="conv1.weight"):
        ResNet18(2).load_state_dict(standard_state_dict(bad))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from tests.test_resnet_bridge_smoke import _data_root

    return _data_root(tmp_path_factory)


def _run(data_root, out, *extra):
    args = rb.get_args_parser().parse_args(
        ["--smoke", "--data-root", str(data_root), "--out", str(out), "--experiments", "hessian"]
        + list(extra)
    )
    saved = torch.get_num_threads()
    try:
        return rb.main(args)
    finally:
        torch.set_num_threads(saved)


def test_missed_target_keeps_the_pretraining_and_a_flipped_state_bit_stops_the_resume(
    data_root, tmp_path, capsys
):
    out = tmp_path / "run"
    assert _run(data_root, out, "--target-acc", "0.99") == 4  # smoke pretraining: ~10%
    assert (out / "state" / "pretrained.pt").is_file()
    assert "Partial report" in (out / "report" / "report.md").read_text()
    assert _run(data_root, out, "--resume", "--target-acc", "0") == 0  # no retraining needed
    log = (out / "log.txt").read_text()
    assert log.count("pretrain: test accuracy") == 1
    # a batch size above the data set is refused once the data is loaded, before any state
    assert _run(data_root, tmp_path / "big", "--sweep-batch-size", "100000") == 2
    assert "--sweep-batch-size" in capsys.readouterr().err
    assert not (tmp_path / "big" / "state").exists()
    # a flipped bit in a finished phase's file: exit 2, the message names it
    hess = out / "state" / "hessian.pt"
    _flip_bit(hess, byte=len(hess.read_bytes()) // 2)
    assert _run(data_root, out, "--resume") == 2
    assert "hessian.pt is corrupt" in capsys.readouterr().err
