"""`archspec train / evaluate / predict` on real (tiny) data with real TensorFlow.

Data loaders (digits, image folders, .npz, keras:NAME offline), checks of bad data before training,
the training configuration (--set, optimizers, schedules, regularization, label smoothing),
auxiliary heads, augmentation (training batches only), the run folder, evaluate / predict from
fresh processes, and transfer learning (init_from + freeze).

Everything is small (8x8 or 12x12 images, 1-3 epochs): the expensive part is starting TensorFlow,
so most trainings run in this process (``builders.training.train.train``) and only the checks that
need a fresh process (the CLI's own error handling, evaluate/predict) start one.
"""

import csv
import json
import os
import socket
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
PIL_Image = pytest.importorskip("PIL.Image")

import archspec  # noqa: E402
from archspec.api import spec_training_config  # noqa: E402
from archspec.errors import SpecError  # noqa: E402
from archspec.language.document import load_document  # noqa: E402
from archspec.language.training import TrainingError, is_augmenting, training_config  # noqa: E402
from archspec.language.training_plan import training_plan  # noqa: E402
from archspec.resolve import resolve  # noqa: E402
from builders.training import data as D  # noqa: E402
from builders.training.augment import make_augment  # noqa: E402
from builders.training.inference import evaluate, predict  # noqa: E402
from builders.training.recipe import apply_regularization, make_loss, make_optimizer, make_schedule, one_hot_labels  # noqa: E402
from builders.training.train import TrainOptions, train  # noqa: E402
from tests.helpers import run_cli  # noqa: E402

# its module-scoped fixture (a real run or page) is made once: every test of the module on one xdist worker
pytestmark = pytest.mark.xdist_group("test_training_data")

TINY = """\
spec_version: 1
name: tiny
variables: {classes: 10, size: 8, channels: 1}
layers:
  - input: {id: image, shape: ["${size}", "${size}", "${channels}"]}
  - conv2d: {id: conv, filters: 4, kernel: 3, activation: relu}
  - dropout: {id: drop, rate: 0.1}
  - flatten: {id: flat}
  - dense: {id: output, units: "${classes}", activation: softmax}
training:
  epochs: 1
  batch_size: 64
"""

# a main output and an auxiliary head (loss weight 0.3) branching off conv1
AUX = """\
spec_version: 1
name: auxnet
variables: {classes: 10}
layers:
  - input: {id: image, shape: [8, 8, 1]}
  - conv2d: {id: conv1, filters: 4, kernel: 3, padding: same, activation: relu}
  - flatten: {id: aux_flat}
  - dense: {id: aux, units: "${classes}", activation: softmax}
  - conv2d: {id: conv2, filters: 6, kernel: 3, activation: relu, inputs: conv1}
  - global_avg_pool2d: {id: gap}
  - dense: {id: classifier, units: "${classes}", activation: softmax}
outputs:
  - {node: classifier, name: main}
  - {node: aux, name: aux1, loss_weight: 0.3}
training:
  epochs: 5
  batch_size: 32
"""

# the same feature layers as AUX, another head: classifier has another shape, fc is new
TRANSFER = """\
spec_version: 1
name: transfer
layers:
  - input: {id: image, shape: [8, 8, 1]}
  - conv2d: {id: conv1, filters: 4, kernel: 3, padding: same, activation: relu}
  - conv2d: {id: conv2, filters: 6, kernel: 3, activation: relu}
  - flatten: {id: flat}
  - dense: {id: fc, units: 16, activation: relu}
  - dense: {id: classifier, units: 10, activation: softmax}
training:
  epochs: 1
  batch_size: 64
  optimizer: {name: adam, learning_rate: 0.01}
"""


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def quiet_train(spec, out, echo=None, **kw):
    lines = [] if echo is None else echo
    opts = TrainOptions(spec, out=str(out), quiet=False, verbose=0, **kw)
    metrics = train(opts, archspec.load(spec, set=opts.overrides, choose=opts.choices), echo=lines.append)
    return metrics, lines


def read_history(run):
    with open(os.path.join(run, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def assert_clean_failure(proc, *fragments):
    """Exit 1, one clear ``Error:`` line naming the problem, no traceback."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]
    return error_lines[0]


# ---------------------------------------------------------------- one real CLI run, shared


@pytest.fixture(scope="module")
def aux_run(tmp_path_factory):
    """`archspec train` of the AUX spec on digits in a subprocess, with --set overrides."""
    tmp = tmp_path_factory.mktemp("aux_run")
    spec = write(tmp / "aux.yaml", AUX)
    run = str(tmp / "run")
    proc = run_cli("train", spec, "-o", run, "--set", "training.epochs=1", "--batch-size", "128",
                   "--set", "training.optimizer.learning_rate=0.01", "--set", "training.seed=3", timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return {"spec": spec, "run": run, "proc": proc, "tmp": tmp}


# ---------------------------------------------------------------- 1. data loaders


def test_digits_split_is_fixed_and_resized_to_the_spec():
    a, b = D.load_data("digits"), D.load_data("digits")
    assert a.class_names == [str(i) for i in range(10)] and a.native_size == (8, 8) and a.channels == 1
    sizes = {k: len(v) for k, v in a.splits.items()}
    assert sizes == {"train": 1258, "val": 180, "test": 359}
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(a.splits[k].y, b.splits[k].y)
        np.testing.assert_array_equal(a.splits[k].x, b.splits[k].x)
        assert set(a.splits[k].y) == set(range(10))  # stratified: every class in every split
    # the fractions come from training.validation_split / test_split
    c = D.load_data("digits", validation_split=0.2, test_split=0.1)
    assert {k: len(v) for k, v in c.splits.items()} == {"train": 1258, "val": 359, "test": 180}

    test = a.splits["test"]
    x, y = next(iter(D.make_dataset(test, input_shape=(8, 8, 1), batch_size=400)))
    np.testing.assert_allclose(x.numpy(), test.x, atol=1e-6)  # native size: untouched
    np.testing.assert_array_equal(y.numpy(), test.y)
    x, _ = next(iter(D.make_dataset(test, input_shape=(12, 12, 3), batch_size=400)))
    x = x.numpy()
    assert x.shape == (359, 12, 12, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(x[..., 0], x[..., 1])  # grey -> RGB: equal channels
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), test.x.mean(axis=(1, 2, 3)), atol=0.03)  # same picture


@pytest.fixture
def image_folder(tmp_path):
    """3 classes x 6 PNGs of different sizes and modes (grey, RGB, RGBA)."""
    root = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for ci, name in enumerate(["cat", "dog", "fish"]):
        (root / name).mkdir(parents=True)
        for i in range(6):
            h, w = 10 + i, 15 - i
            mode = ["L", "RGB", "RGBA"][i % 3]
            arr = rng.integers(0, 256, (h, w, len(mode)), dtype=np.uint8)
            arr[..., 0] = 80 * ci  # a class signal
            PIL_Image.fromarray(arr[..., 0] if mode == "L" else arr, mode).save(root / name / f"{i}.png")
        (root / name / "notes.txt").write_text("not an image")
    return root


def test_image_folder_loads_and_resizes(image_folder):
    d = D.load_data(str(image_folder))
    assert d.class_names == ["cat", "dog", "fish"] and d.name == "shapes"
    assert d.native_size == (10, 10)  # the smallest height and the smallest width
    assert sum(len(s) for s in d.splits.values()) == 18
    assert all(f.endswith(".png") for s in d.splits.values() for f in s.files)
    D.check_compatible(d, input_shape=(12, 12, 3), num_classes=3, max_upscale=8.0)
    for shape in ((8, 8, 1), (12, 12, 3)):
        batches = list(D.make_dataset(d.splits["train"], input_shape=shape, batch_size=5))
        x = np.concatenate([b[0].numpy() for b in batches])
        y = np.concatenate([b[1].numpy() for b in batches])
        assert x.shape == (len(d.splits["train"]), *shape)
        assert 0.0 <= x.min() and x.max() <= 1.0
        np.testing.assert_array_equal(y, d.splits["train"].y)


def test_image_folder_errors(tmp_path, image_folder):
    d = D.load_data(str(image_folder))
    with pytest.raises(TrainingError, match="decode to 1 \\(grey\\), 3 \\(RGB\\) or 4"):
        D.check_compatible(d, input_shape=(8, 8, 2), num_classes=3, max_upscale=None)
    with pytest.raises(TrainingError, match="one sub-folder per class"):
        D.load_data(str(image_folder / "cat"))  # images, no class folders
    (image_folder / "empty").mkdir()
    with pytest.raises(TrainingError, match="'empty' holds no images"):
        D.load_data(str(image_folder))
    (image_folder / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(TrainingError, match="broken.png is not a readable image"):
        D.load_data(str(image_folder))
    with pytest.raises(TrainingError, match="no such file or folder"):
        D.load_data(str(tmp_path / "missing"))


def _images(n=60, size=10, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8), np.arange(n) % 4


@pytest.mark.parametrize("case, sizes", [
    ("train only", {"train": 42, "val": 6, "test": 12}),
    ("train+val", {"train": 48, "val": 10, "test": 12}),
    ("train+test", {"train": 54, "val": 6, "test": 10}),
    ("train+val+test", {"train": 60, "val": 10, "test": 12}),
    ("grey N,H,W", {"train": 42, "val": 6, "test": 12}),
    ("one-hot labels", {"train": 42, "val": 6, "test": 12}),
    ("float images", {"train": 42, "val": 6, "test": 12}),
])
def test_npz_splits(tmp_path, case, sizes):
    x, y = _images()
    arrays = {"x_train": x, "y_train": y}
    if "val" in case:
        arrays.update(x_val=x[:10], y_val=y[:10])
    if "test" in case:
        arrays.update(x_test=x[:12] if "val" in case else x[:10], y_test=y[:12] if "val" in case else y[:10])
    if case == "grey N,H,W":
        arrays["x_train"] = x[..., 0]
    if case == "one-hot labels":
        arrays["y_train"] = np.eye(4, dtype=np.float32)[y]
    if case == "float images":
        arrays["x_train"] = x.astype(np.float32) / 255.0
    np.savez(tmp_path / "d.npz", **arrays)
    d = D.load_data(str(tmp_path / "d.npz"))
    assert {k: len(v) for k, v in d.splits.items()} == sizes
    assert d.class_names == ["0", "1", "2", "3"] and d.native_size == (10, 10)
    assert d.channels == (1 if case == "grey N,H,W" else 3)
    for shape in ((8, 8, 1), (12, 12, 3)):
        D.check_compatible(d, input_shape=shape, num_classes=4, max_upscale=8.0)
        x_b, y_b = next(iter(D.make_dataset(d.splits["test"], input_shape=shape, batch_size=100)))
        assert x_b.shape == (sizes["test"], *shape) and float(x_b.numpy().max()) <= 1.0
        np.testing.assert_array_equal(y_b.numpy(), d.splits["test"].y)
    if case == "float images":  # floats are taken as [0, 1] values, uint8 as 0..255: the same pictures
        xf, _ = next(iter(D.make_dataset(d.splits["test"], input_shape=(10, 10, 3), batch_size=100)))
        np.testing.assert_allclose(xf.numpy(), d.splits["test"].x, atol=1e-6)
        assert d.splits["test"].x.dtype == np.float32


@pytest.mark.parametrize("arrays, message", [
    (lambda x, y: {"x_train": x}, "needs arrays x_train and y_train"),
    (lambda x, y: {"x_train": x, "y_train": y[:50]}, "x_train has 60 images but y_train has 50 labels"),
    (lambda x, y: {"x_train": x, "y_train": y, "x_val": x[:5]}, "x_val and y_val go together"),
    (lambda x, y: {"x_train": x, "y_train": y, "x_test": x[:5, :8], "y_test": y[:5]}, "different image shapes"),
    (lambda x, y: {"x_train": x, "y_train": y - 1}, "class indices 0..K-1, found -1"),
    (lambda x, y: {"x_train": x.astype(np.float32), "y_train": y}, "float images must lie in [0, 1]"),
    (lambda x, y: {"x_train": np.full((4, 5, 5), np.nan, np.float32), "y_train": y[:4]}, "NaN"),
    (lambda x, y: {"x_train": x[None], "y_train": y}, "expected images (N, H, W) or (N, H, W, C)"),
    (lambda x, y: {"x_train": x, "y_train": np.array(["cat"] * 60)}, "class indices"),
])
def test_npz_errors(tmp_path, arrays, message):
    x, y = _images()
    np.savez(tmp_path / "d.npz", **arrays(x, y))
    with pytest.raises(TrainingError) as e:
        D.load_data(str(tmp_path / "d.npz"))
    assert message in str(e.value)


def test_npz_that_is_not_an_npz(tmp_path):
    (tmp_path / "junk.npz").write_text("hello")
    with pytest.raises(TrainingError, match="not a .npz file"):
        D.load_data(str(tmp_path / "junk.npz"))
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(TrainingError, match="not a folder or a .npz file"):
        D.load_data(str(tmp_path / "data.csv"))


def test_channel_conversions_allowed_and_refused(tmp_path):
    x, y = _images(channels=4)
    np.savez(tmp_path / "rgba.npz", x_train=x, y_train=y)
    d = D.load_data(str(tmp_path / "rgba.npz"))
    for c in (1, 3, 4):  # RGBA -> RGB, grey, as is
        D.check_compatible(d, input_shape=(10, 10, c), num_classes=4, max_upscale=8.0)
        xb, _ = next(iter(D.make_dataset(d.splits["test"], input_shape=(10, 10, c), batch_size=4)))
        assert xb.shape[-1] == c
    np.testing.assert_allclose(
        next(iter(D.make_dataset(d.splits["test"], input_shape=(10, 10, 3), batch_size=4)))[0].numpy(),
        d.splits["test"].x[:4, ..., :3] / 255.0, atol=1e-6)
    np.savez(tmp_path / "two.npz", x_train=x[..., :2], y_train=y)
    d2 = D.load_data(str(tmp_path / "two.npz"))
    with pytest.raises(TrainingError, match="2-channel images but the spec's input has 3 channels"):
        D.check_compatible(d2, input_shape=(10, 10, 3), num_classes=4, max_upscale=8.0)


@pytest.mark.slow  # a fresh process that imports Keras: ~5-10 s on 2 busy cores
def test_keras_dataset_offline_fails_fast_with_a_clear_error(tmp_path, write_spec):
    """keras:mnist with an empty cache and no way out: one clear error line, no traceback, no run folder."""
    spec = write_spec(TINY)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once
    env = {"KERAS_HOME": str(tmp_path / "keras_home"), "https_proxy": closed, "HTTPS_PROXY": closed,
           "http_proxy": closed, "HTTP_PROXY": closed, "no_proxy": "", "NO_PROXY": ""}
    proc = run_cli("train", spec, "--data", "keras:mnist", "-o", str(tmp_path / "run"), env=env, timeout=120)
    line = assert_clean_failure(proc, "cannot load keras:mnist", "is there a network?")
    assert str(tmp_path / "keras_home") in line  # where it would be cached
    assert not (tmp_path / "run").exists()


def test_keras_dataset_download_is_bounded(monkeypatch):
    """A network that accepts the connection and then says nothing must not hang the run."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def stalled_load_data():
        with socket.create_connection(("127.0.0.1", port)) as s:  # uses the default timeout, as urlopen does
            s.recv(1)
        raise AssertionError("unreachable")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", stalled_load_data)
    monkeypatch.setattr(D, "DOWNLOAD_TIMEOUT", 0.3)
    before = socket.getdefaulttimeout()
    try:
        with pytest.raises(TrainingError, match="cannot load keras:fashion_mnist: TimeoutError"):
            D.load_data("keras:fashion_mnist")
    finally:
        server.close()
    assert socket.getdefaulttimeout() == before  # restored


@pytest.mark.parametrize("data, sets, message", [
    ("digits", ["variables.classes=4"], ["has 10 classes", "'output' has 4 units", "--set variables.classes=10"]),
    ("two_channels", ["variables.classes=4", "variables.channels=3", "variables.size=10"],
     ["2-channel images", "has 3 channels"]),
    ("digits", ["variables.size=96"], ["as small as 8x8 would be upscaled 12.0x", "training.max_upscale"]),
])
def test_bad_data_stops_before_training(tmp_path, write_spec, data, sets, message):
    spec = write_spec(TINY)
    if data == "two_channels":
        x, y = _images(channels=2)
        np.savez(tmp_path / "two.npz", x_train=x, y_train=y)
        data = str(tmp_path / "two.npz")
    args = ["train", spec, "--data", data, "-o", str(tmp_path / "run")]
    for s in sets:
        args += ["--set", s]
    assert_clean_failure(run_cli(*args), *message)
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


# ---------------------------------------------------------------- 2. the training configuration


def test_set_overrides_are_applied_and_saved(aux_run):
    cfg = json.load(open(os.path.join(aux_run["run"], "training.json")))
    assert cfg["epochs"] == 1 and cfg["batch_size"] == 128 and cfg["seed"] == 3  # --set and --batch-size
    assert cfg["optimizer"]["name"] == "adam" and cfg["optimizer"]["learning_rate"] == 0.01
    assert cfg["data"] == "digits" and cfg["schedule"] == {"name": "constant", "warmup_epochs": 0.0}
    assert set(cfg) == set(training_config({}))  # every field, defaults filled in
    assert len(read_history(aux_run["run"])) == 1  # one epoch, not the spec's 5
    assert "1 epochs x 10 steps, global batch 128" in aux_run["proc"].stdout


def test_set_keeps_a_shorthand_optimizer_and_schedule(write_spec):
    """`optimizer: sgd` + --set training.optimizer.learning_rate: still SGD (not the default optimizer)."""
    spec = write_spec(TINY + "  optimizer: sgd\n  schedule: cosine\n")
    _, cfg = spec_training_config(spec, {"training.optimizer.learning_rate": 0.05,
                                         "training.optimizer.momentum": 0.9,
                                         "training.schedule.warmup_epochs": 0.5})
    assert cfg["optimizer"]["name"] == "sgd" and cfg["optimizer"]["learning_rate"] == 0.05
    assert cfg["optimizer"]["momentum"] == 0.9
    assert cfg["schedule"] == {"name": "cosine", "warmup_epochs": 0.5, "alpha": 0.0}
    with pytest.raises(SpecError, match='unknown key "beta_1" in training.optimizer'):
        spec_training_config(spec, {"training.optimizer.beta_1": 0.5})  # SGD has no beta_1


@pytest.mark.parametrize("optimizer, attrs", [
    ({"name": "sgd", "momentum": 0.9, "nesterov": True}, {"momentum": 0.9, "nesterov": True}),
    ({"name": "rmsprop", "rho": 0.8, "momentum": 0.5, "centered": True}, {"rho": 0.8, "momentum": 0.5,
                                                                          "centered": True}),
    ("adam", {"beta_1": 0.9, "amsgrad": False}),
    ({"name": "adam", "amsgrad": True, "clipnorm": 1.0}, {"amsgrad": True, "clipnorm": 1.0}),
    ("adamw", {"weight_decay": 0.004}),
    ({"name": "adamw", "weight_decay": 0.01, "learning_rate": 0.003}, {"weight_decay": 0.01}),
])
def test_optimizers_build_and_step(optimizer, attrs):
    cfg = training_plan({"optimizer": optimizer, "schedule": {"name": "cosine", "warmup_epochs": 1}, "epochs": 3})
    opt = make_optimizer(cfg.optimizer, make_schedule(cfg.schedule, cfg.optimizer.learning_rate, 5, 3))
    name = optimizer if isinstance(optimizer, str) else optimizer["name"]
    assert type(opt).__name__.lower() == name
    for key, value in attrs.items():
        assert getattr(opt, key) == pytest.approx(value), key
    v = keras.Variable(np.ones((3,), np.float32))
    for _ in range(3):
        opt.apply_gradients([(tf.constant([1.0, -2.0, 0.5]), v)])
    w = v.numpy()
    assert np.isfinite(w).all() and w[0] < 1.0 < w[1]  # moved against the gradient


S = 10  # steps per epoch in the schedule table


@pytest.mark.parametrize("schedule, expected", [
    ("constant", {0: 0.1, 99: 0.1}),
    ({"name": "constant", "warmup_epochs": 1}, {0: 0.01, 4: 0.05, 9: 0.1, 50: 0.1}),
    ({"name": "step", "every": 2, "factor": 0.5}, {0: 0.1, 19: 0.1, 20: 0.05, 40: 0.025}),
    ({"name": "step", "boundaries": [1, 3], "factor": 0.1}, {9: 0.1, 10: 0.01, 29: 0.01, 30: 0.001, 99: 0.001}),
    ({"name": "step", "every": 2, "factor": 0.5, "warmup_epochs": 1}, {0: 0.01, 9: 0.1, 29: 0.1, 30: 0.05}),
    ({"name": "exponential", "decay_rate": 0.5}, {0: 0.1, 10: 0.05, 20: 0.025}),
    ("cosine", {0: 0.1, 50: 0.05, 100: 0.0}),
    ({"name": "cosine", "alpha": 0.1}, {0: 0.1, 100: 0.01}),
    ({"name": "cosine", "warmup_epochs": 2}, {10: 0.05, 20: 0.1, 100: 0.0}),
    ({"name": "plateau", "patience": 2}, {0: 0.1}),  # the rate is adapted by a callback, see below
])
def test_schedules(schedule, expected):
    cfg = training_plan({"schedule": schedule, "epochs": 10})
    lr = make_schedule(cfg.schedule, 0.1, S, 10)
    for step, value in expected.items():
        got = float(lr(step)) if callable(lr) else lr
        assert got == pytest.approx(value, rel=1e-4, abs=1e-7), step
    if isinstance(schedule, dict) and schedule.get("warmup_epochs"):  # a warm-up rises monotonically
        rising = [float(lr(i)) for i in range(int(schedule["warmup_epochs"] * S) + 1)]
        assert rising == sorted(rising) and rising[-1] == pytest.approx(0.1)


def _tiny_model(extra_layers=""):
    doc = load_document("tiny.yaml", text=TINY.replace("  - flatten: {id: flat}\n",
                                                        "  - flatten: {id: flat}\n" + extra_layers))
    from builders.keras_model import build_model

    return build_model(resolve(doc))


@pytest.mark.parametrize("reg", [{"l1": 0.01}, {"l2": 0.1}, {"l1": 0.01, "l2": 0.1}, "elastic"])
def test_regularization_shows_up_in_model_losses(reg):
    model = _tiny_model("  - dense: {id: own, units: 6, kernel_regularizer: {l2: 0.5}}\n")
    assert len(model.losses) == 1  # the spec's own regularizer
    cfg = training_config({"regularization": reg})["regularization"]
    plan = training_plan({"regularization": reg})
    assert apply_regularization(model, plan.regularization) == 2  # conv and output; "own" keeps its own
    losses = sorted(float(v) for v in model.losses)
    kernels = {name: model.get_layer(name).kernel.numpy() for name in ("conv", "own", "output")}
    expected = sorted([cfg["l1"] * np.abs(kernels["conv"]).sum() + cfg["l2"] * (kernels["conv"] ** 2).sum(),
                       cfg["l1"] * np.abs(kernels["output"]).sum() + cfg["l2"] * (kernels["output"] ** 2).sum(),
                       0.5 * (kernels["own"] ** 2).sum()])
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert apply_regularization(_tiny_model(), training_plan({}).regularization) == 0


def test_label_smoothing_loss():
    cfg = training_plan({"label_smoothing": 0.1})
    assert one_hot_labels(cfg) and not one_hot_labels(training_plan({}))
    loss = make_loss(cfg, logits=False)
    y = np.eye(4, dtype=np.float32)[[0, 2]]
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.2, 0.2, 0.5, 0.1]], np.float32)
    smoothed = 0.9 * y + 0.1 / 4
    assert float(loss(y, p)) == pytest.approx(float(np.mean(-(smoothed * np.log(p)).sum(axis=1))), rel=1e-5)
    ds = D.make_dataset(D.Split(np.array([1, 3]), np.zeros((2, 8, 8, 1), np.float32)), input_shape=(8, 8, 1),
                        batch_size=2, one_hot=True, num_classes=4)
    np.testing.assert_array_equal(next(iter(ds))[1].numpy(), np.eye(4)[[1, 3]])


def test_fit_sgd_nesterov_step_warmup_smoothing_regularization_dropout(tmp_path, write_spec):
    spec = write_spec(TINY
                      + "  optimizer: {name: sgd, learning_rate: 0.05, momentum: 0.9, nesterov: true}\n"
                      + "  schedule: {name: step, every: 1, factor: 0.5, warmup_epochs: 1}\n"
                      + "  label_smoothing: 0.1\n"
                      + "  regularization: {l1: 1.0e-5, l2: 1.0e-4}\n"
                      + "  dropout: 0.3\n")
    metrics, lines = quiet_train(spec, tmp_path / "run", overrides={"training.epochs": 2, "training.batch_size": 128})
    assert any("L1/L2 on 2 kernels" in line for line in lines), lines
    lrs = [float(r["learning_rate"]) for r in read_history(tmp_path / "run")]
    assert lrs == pytest.approx([0.05, 0.025], rel=1e-5)  # warm-up over epoch 1, then halved every epoch
    cfg = json.load(open(tmp_path / "run" / "training.json"))
    assert cfg["label_smoothing"] == 0.1 and cfg["dropout"] == 0.3 and cfg["optimizer"]["nesterov"] is True
    model = keras.models.load_model(str(tmp_path / "run" / "model.keras"), compile=False)
    assert model.get_layer("drop").rate == pytest.approx(0.3)  # training.dropout replaced the spec's 0.1
    assert np.isfinite(metrics["test"]["loss"]) and metrics["test"]["accuracy"] > 0.3, metrics["test"]


def test_fit_adamw_reduce_on_plateau(tmp_path, write_spec):
    spec = write_spec(TINY)
    # a rate so small that the validation loss cannot improve by min_delta: reduced after epoch 2
    metrics, _ = quiet_train(spec, tmp_path / "run", overrides={
        "training.epochs": 3, "training.batch_size": 256,
        "training.optimizer": {"name": "adamw", "learning_rate": 1.0e-6},
        "training.schedule": {"name": "plateau", "patience": 0, "factor": 0.5}})
    lrs = [float(r["learning_rate"]) for r in read_history(tmp_path / "run")]
    assert lrs == pytest.approx([1e-6, 1e-6, 5e-7], rel=1e-4)
    assert metrics["epochs_this_run"] == 3
    # the validation figures come from fit's last validation (the same weights), not a second pass: the
    # exported model, evaluated afresh, gives them again
    v = evaluate(str(tmp_path / "run"), split="validation")
    assert v["loss"] == pytest.approx(metrics["validation"]["loss"], rel=1e-4)
    assert v["accuracy"] == pytest.approx(metrics["validation"]["accuracy"], abs=1.5 / 180)


def test_check_reports_training_errors_with_locations(write_spec):
    extra = ["  optimizer: {name: sgd, momentun: 0.9}", "  schedule: cosin", "  augmentation: {flip: sideways}",
             "  label_smoothing: 1.5", '  freeze: ["nope*"]', "  batchsize: 3"]
    text = TINY + "\n".join(extra) + "\n"
    spec = write_spec(text)
    proc = run_cli("check", spec)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()

    def at(token, line_text):  # 1-based line and column of token on the line line_text
        line_no = text.splitlines().index(line_text) + 1
        return line_no, line_text.index(token) + 1

    expect = [(*at("momentun", extra[0]), 'unknown key "momentun" in training.optimizer (did you mean "momentum"?)'),
              (*at("cosin", extra[1]), 'training.schedule: unknown schedule "cosin" (did you mean "cosine"?)'),
              (*at("sideways", extra[2]), "training.augmentation.flip: expected one of none, horizontal, vertical"),
              (*at("1.5", extra[3]), "training.label_smoothing: expected a number >= 0 and < 1, got 1.5"),
              (*at('"nope*"', extra[4]), 'training.freeze: "nope*" matches no node'),
              (*at("batchsize", extra[5]), 'unknown key "batchsize" in training (did you mean "batch_size"?)')]
    for line_no, col, message in expect:
        assert any(line.startswith(f"{spec}:{line_no}:{col}: ") and message in line for line in lines), \
            (line_no, message, proc.stderr)
    assert lines[-1] == f"{spec}: 6 error(s)"


# ---------------------------------------------------------------- 3. auxiliary heads


def test_aux_head_trains_and_is_dropped_from_the_export(aux_run):
    run = aux_run["run"]
    meta = json.load(open(os.path.join(run, "run.json")))
    assert [o["name"] for o in meta["outputs"]] == ["main", "aux1"]
    assert "1 auxiliary head(s)" in aux_run["proc"].stdout
    row = read_history(run)[0]
    # the training loss is main + 0.3 x aux
    assert float(row["loss"]) == pytest.approx(float(row["main_loss"]) + 0.3 * float(row["aux1_loss"]), rel=1e-2)
    model = keras.models.load_model(os.path.join(run, "model.keras"), compile=False)
    assert len(model.outputs) == 1 and tuple(model.outputs[0].shape) == (None, 10)
    names = {layer.name for layer in model.layers}
    assert {"conv1", "conv2", "classifier"} <= names and not names & {"aux", "aux_flat"}


# ---------------------------------------------------------------- 4. augmentation


AUG = {"flip": "both", "rotate": 15, "crop": 2, "noise": 0.05}


def _indexed_split(n=24, size=10, seed=1):
    """Distinct random images whose 'labels' are their indices, so batches can be matched back."""
    x = np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return D.Split(np.arange(n), x)


def _collect(ds, n):
    out = [None] * n
    for xb, yb in ds:
        for img, i in zip(xb.numpy(), yb.numpy()):
            out[i] = img
    return np.stack(out)


def test_augmentation_applies_to_training_batches_only():
    shape = (12, 12, 3)
    split = _indexed_split()
    cfg = training_config({"augmentation": AUG})
    assert is_augmenting(cfg) and not is_augmenting(training_config({}))
    augment = make_augment(training_plan({"augmentation": AUG}).augmentation, shape, seed=0)
    plain = D.preprocess_array(split.x, shape)

    train_ds = D.make_dataset(split, input_shape=shape, batch_size=8, training=True, augment=augment, seed=0)
    epoch1, epoch2 = _collect(train_ds, 24), _collect(train_ds, 24)
    diff = np.abs(epoch1 - plain).reshape(24, -1).max(axis=1)
    assert (diff > 1e-3).all()  # every training image is transformed (noise at least)
    assert np.abs(epoch1 - epoch2).max() > 0.1  # fresh transforms every epoch
    assert 0.0 <= epoch1.min() and epoch1.max() <= 1.0 and epoch1.shape == plain.shape

    # evaluation / test pipelines: untouched, even when handed the augmentation, and in order
    for ds in (D.make_dataset(split, input_shape=shape, batch_size=8, augment=augment),
               D.make_dataset(split, input_shape=shape, batch_size=8)):
        got = np.concatenate([xb.numpy() for xb, _ in ds])
        np.testing.assert_allclose(got, plain, atol=1e-6)
    # and the training pipeline without augmentation holds the same images as evaluation
    np.testing.assert_allclose(_collect(D.make_dataset(split, input_shape=shape, batch_size=8, training=True), 24),
                               plain, atol=1e-6)


@pytest.mark.parametrize("aug", [{"flip": "horizontal"}, {"flip": "vertical"}, {"rotate": 30},
                                 {"crop": 3}, {"crop": 3, "fill_mode": "reflect"}, {"zoom": 0.3},
                                 {"translate": 0.3}, {"shear": 0.3}, {"blur": 1.5}, {"brightness": 0.3},
                                 {"contrast": 0.5}, {"noise": 0.1}, {"rotate": 30, "fill_mode": "nearest"}])
def test_each_augmentation_runs_in_the_pipeline(aug):
    shape = (12, 12, 3)
    split = _indexed_split(n=16)
    augment = make_augment(training_plan({"augmentation": aug}).augmentation, shape, seed=0)
    plain = D.preprocess_array(split.x, shape)
    got = _collect(D.make_dataset(split, input_shape=shape, batch_size=8, training=True, augment=augment), 16)
    assert got.shape == plain.shape and got.dtype == np.float32
    assert 0.0 <= got.min() and got.max() <= 1.0
    changed = (np.abs(got - plain).reshape(16, -1).max(axis=1) > 1e-4).sum()
    assert changed >= 2  # random per image: some (usually most) images change


def test_flip_both_flips_each_axis_independently():
    img = np.random.default_rng(0).random((6, 6, 1)).astype(np.float32)
    x = np.repeat(img[None], 64, axis=0)
    augment = make_augment(training_plan({"augmentation": {"flip": "both"}}).augmentation, (6, 6, 1), seed=0)
    out = augment(tf.constant(x)).numpy()
    variants = {"none": img, "h": img[:, ::-1], "v": img[::-1], "hv": img[::-1, ::-1]}
    seen = {name for o in out for name, v in variants.items() if np.array_equal(o, v)}
    assert seen == {"none", "h", "v", "hv"}


def test_no_augmentation_is_none():
    assert make_augment(training_plan({}).augmentation, (8, 8, 1)) is None
    assert make_augment(training_plan({"augmentation": "none"}).augmentation, (8, 8, 1)) is None


# ---------------------------------------------------------------- 5. the run folder


def test_run_folder_outputs(aux_run):
    run = aux_run["run"]
    for name in ("run.json", "training.json", "spec.resolved.yaml", "model.keras", "history.csv", "metrics.json",
                 "curves.png", "confusion.png"):
        assert os.path.isfile(os.path.join(run, name)), name
    assert not os.path.exists(os.path.join(run, "checkpoints"))  # removed when training finished
    m = json.load(open(os.path.join(run, "metrics.json")))
    for split, n in (("train", 1258), ("validation", 180), ("test", 359)):
        assert set(m[split]) == {"loss", "accuracy", "samples"} and m[split]["samples"] == n
        assert np.isfinite(m[split]["loss"]) and 0.0 <= m[split]["accuracy"] <= 1.0
    assert m["wall_seconds"] > 0 and m["samples_per_second"] > 0
    assert 0 < m["setup_seconds"] and m["setup_seconds"] + m["fit_seconds"] <= m["wall_seconds"]
    assert m["epochs"] == 1 and m["global_batch_size"] == 128 and m["classes"] == 10
    meta = json.load(open(os.path.join(run, "run.json")))
    assert meta["status"] == "finished" and meta["input_shape"] == [8, 8, 1] and meta["data"] == "digits"
    resolved = open(os.path.join(run, "spec.resolved.yaml")).read()
    assert "name: auxnet" in resolved and "aux1" in resolved
    for png in ("curves.png", "confusion.png"):
        with PIL_Image.open(os.path.join(run, png)) as im:
            assert im.format == "PNG" and im.size[0] > 200 and im.size[1] > 200
    for which in ("train", "validation"):
        events = os.listdir(os.path.join(run, "logs", which))
        assert any(e.startswith("events.out.tfevents") for e in events), which
        assert os.path.getsize(os.path.join(run, "logs", which, events[0])) > 0
    assert "test accuracy" in aux_run["proc"].stdout and "Traceback" not in aux_run["proc"].stderr


def test_existing_run_is_not_overwritten(aux_run):
    run = aux_run["run"]
    before = {name: open(os.path.join(run, name), "rb").read() for name in ("model.keras", "metrics.json")}
    proc = run_cli("train", aux_run["spec"], "-o", run, "--set", "training.epochs=1")
    assert_clean_failure(proc, "already holds a run", "--overwrite", "--resume")
    for name, content in before.items():
        assert open(os.path.join(run, name), "rb").read() == content, name


def test_a_foreign_folder_is_never_used(tmp_path, write_spec):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(TrainingError, match="not an archspec run folder"):
        quiet_train(write_spec(TINY), tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


# ---------------------------------------------------------------- 6. evaluate / predict


def test_evaluate_own_test_split_matches_metrics(aux_run):
    r = evaluate(aux_run["run"])
    m = json.load(open(os.path.join(aux_run["run"], "metrics.json")))
    assert r["split"] == "test" and r["samples"] == 359 and r["data"] == "digits"
    # the same model on the same images (a near tie may fall the other way in another process: 1 image)
    assert r["accuracy"] == pytest.approx(m["test"]["accuracy"], abs=1.5 / 359)
    assert r["loss"] == pytest.approx(m["test"]["loss"], rel=1e-3)
    v = evaluate(aux_run["run"], split="validation")
    assert v["samples"] == 180 and v["accuracy"] == pytest.approx(m["validation"]["accuracy"], abs=1.5 / 180)
    with pytest.raises(TrainingError, match="not an archspec run folder"):
        evaluate(str(aux_run["tmp"]))


def _digit_pictures():
    """Test digits as 16x16 RGB uint8 pictures (another size and channel count than the 8x8 grey spec)."""
    d = D.load_data("digits")
    x = (d.splits["test"].x * 255).round().astype(np.uint8)
    bilinear = PIL_Image.Resampling.BILINEAR
    big = np.stack([np.asarray(PIL_Image.fromarray(img[..., 0]).resize((16, 16), bilinear)) for img in x])
    return np.repeat(big[..., None], 3, axis=-1), d.splits["test"].y


def test_evaluate_cli_with_npz_data(aux_run, tmp_path):
    x, y = _digit_pictures()
    np.savez(tmp_path / "other.npz", x_train=x[:200], y_train=y[:200])
    proc = run_cli("evaluate", aux_run["run"], "--data", str(tmp_path / "other.npz"), "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["split"] == "all" and r["samples"] == 200 and r["data"] == "other.npz"
    assert np.isfinite(r["loss"]) and 0.0 <= r["accuracy"] <= 1.0


def test_predict_cli_top_k(aux_run, tmp_path):
    x, _ = _digit_pictures()
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"digit{i}.png"))
        PIL_Image.fromarray(x[i]).save(paths[-1])
    proc = run_cli("predict", aux_run["run"], *paths, "-k", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert list(r) == paths
    for top in r.values():
        assert len(top) == 2 and all(t["class"] in [str(i) for i in range(10)] for t in top)
        probs = [t["probability"] for t in top]
        assert probs == sorted(probs, reverse=True) and 0.0 < sum(probs) <= 1.0 + 1e-6
    # the same answer in this process
    local = predict(aux_run["run"], paths, top_k=2)
    for path, top in local:
        assert [c for c, _ in top] == [t["class"] for t in r[path]]


def test_predict_reports_an_unreadable_file_and_predicts_the_others(aux_run, tmp_path):
    x, _ = _digit_pictures()
    good = [str(tmp_path / f"digit{i}.png") for i in range(2)]
    for i, p in enumerate(good):
        PIL_Image.fromarray(x[i]).save(p)
    (tmp_path / "bad.png").write_bytes(b"no picture")
    paths = [good[0], str(tmp_path / "bad.png"), good[1]]
    proc = run_cli("predict", aux_run["run"], *paths)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == good
    assert f"{tmp_path / 'bad.png'}: cannot decode the image" in proc.stderr
    proc = run_cli("predict", aux_run["run"], *paths, "--json")
    r = json.loads(proc.stdout)
    assert proc.returncode == 1 and list(r) == paths and "cannot decode the image" in r[paths[1]]["error"]


def test_predict_errors(aux_run, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"no picture")
    with pytest.raises(TrainingError, match="bad.png: cannot decode the image"):
        predict(aux_run["run"], [str(tmp_path / "bad.png")])
    with pytest.raises(TrainingError, match="no such image file"):
        predict(aux_run["run"], [str(tmp_path / "missing.png")])
    with pytest.raises(TrainingError, match="give the run folder"):
        predict(os.path.join(aux_run["run"], "model.keras"), [str(tmp_path / "bad.png")])


def test_train_on_an_image_folder_and_predict_class_names(tmp_path, image_folder, write_spec):
    spec = write_spec(TINY)
    metrics, _ = quiet_train(spec, tmp_path / "run", overrides={
        "training.data": str(image_folder), "variables.classes": 3, "variables.channels": 3,
        "training.batch_size": 4})
    assert metrics["data"] == "shapes" and metrics["test"]["samples"] == 4
    meta = json.load(open(tmp_path / "run" / "run.json"))
    assert meta["classes"] == ["cat", "dog", "fish"] and meta["input_shape"] == [8, 8, 3]
    [(path, top)] = predict(str(tmp_path / "run"), [str(image_folder / "dog" / "3.png")], top_k=5)
    assert len(top) == 3 and {c for c, _ in top} == {"cat", "dog", "fish"}
    assert sum(p for _, p in top) == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------- 7. transfer learning


@pytest.mark.parametrize("source, freeze", [("run folder", ["conv1"]), (".keras file", ["conv*"])])
def test_transfer_learning(aux_run, tmp_path, source, freeze):
    src_run = aux_run["run"]
    init_from = src_run if source == "run folder" else os.path.join(src_run, "model.keras")
    spec = write(tmp_path / "transfer.yaml", TRANSFER)
    metrics, lines = quiet_train(spec, tmp_path / "run", overrides={"training.init_from": init_from,
                                                                    "training.freeze": freeze})
    report = "\n".join(lines)
    assert f"init_from {init_from}: loaded 2 layer(s) (conv1, conv2); skipped 2:" in report
    assert "fc (not in the source model)" in report and "classifier (shapes [(6, 10), (10,)] in the source" in report
    frozen = ["conv1"] if freeze == ["conv1"] else ["conv1", "conv2"]
    assert f"frozen: {len(frozen)} layer(s) ({', '.join(frozen)})" in report
    assert metrics["transfer"]["loaded"] == ["conv1", "conv2"] and metrics["frozen"] == frozen
    assert {s["node"] for s in metrics["transfer"]["skipped"]} == {"fc", "classifier"}

    before = keras.models.load_model(os.path.join(src_run, "model.keras"), compile=False)
    after = keras.models.load_model(str(tmp_path / "run" / "model.keras"), compile=False)
    for name in ("conv1", "conv2"):
        same = all(np.array_equal(a, b) for a, b in zip(before.get_layer(name).get_weights(),
                                                        after.get_layer(name).get_weights()))
        assert same == (name in frozen), name  # frozen: unchanged; loaded and trainable: trained further


def test_transfer_errors(tmp_path, write_spec):
    spec = write_spec(TINY)
    with pytest.raises(TrainingError, match="no such run folder or .keras file"):
        quiet_train(spec, tmp_path / "run", overrides={"training.init_from": str(tmp_path / "nowhere")})
    assert not (tmp_path / "run").exists()  # refused before the run folder was made
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(TrainingError, match="a run folder without model.keras"):
        quiet_train(spec, tmp_path / "run", overrides={"training.init_from": str(tmp_path / "empty_run")})
    (tmp_path / "broken.keras").write_bytes(b"not a model")
    with pytest.raises(TrainingError, match="cannot load it as a Keras model"):
        quiet_train(spec, tmp_path / "run", overwrite=True,
                    overrides={"training.init_from": str(tmp_path / "broken.keras")})
