"""The reference specs: published parameter counts, MACs, schema, resolve round trip."""

import glob
import json
import os

import pytest
import yaml

from archspec import check
from archspec.writers.emit import to_yaml
from tests.helpers import SPECS

ALL_SPECS = sorted(glob.glob(os.path.join(SPECS, "*.yaml")))

# (params, trainable) from the papers / keras.applications (Keras 3.15, see shared REFERENCE-NOTES)
PUBLISHED = {
    "lenet5": (61_706, 61_706),
    "alexnet": (62_378_344, 62_378_344),
    "vgg16": (138_357_544, 138_357_544),
    "resnet50": (25_636_712, 25_583_592),
    "resnet101": (44_707_176, 44_601_832),
    "resnet152": (60_419_944, 60_268_520),
    # the other keras.applications families the language must express
    "mobilenet": (4_253_864, 4_231_976),
    "densenet121": (8_062_504, 7_978_856),
    "densenet169": (14_307_880, 14_149_480),
    "densenet201": (20_242_984, 20_013_928),
    "xception": (22_910_480, 22_855_952),
    "efficientnet_b0": (5_330_571, 5_288_548),
    "efficientnet_b1": (7_856_239, 7_794_184),
    "efficientnet_b3": (12_320_535, 12_233_232),
    "efficientnet_b7": (66_658_687, 66_347_960),
    "mobilenet_v3_small": (2_554_968, 2_542_856),
    "mobilenet_v3_large": (5_507_432, 5_483_032),
    "convnext_tiny": (28_589_128, 28_589_128),
    "convnext_small": (50_223_688, 50_223_688),
    "convnext_base": (88_591_464, 88_591_464),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    totals = check(os.path.join(SPECS, f"{name}.yaml")).totals()
    assert (totals["params"], totals["trainable_params"]) == PUBLISHED[name]


def test_every_reference_spec_checks():
    assert len(ALL_SPECS) >= 10
    for path in ALL_SPECS:
        check(path)


def test_alexnet_has_lrn_with_paper_constants_and_overlapping_pooling():
    g = check(os.path.join(SPECS, "alexnet.yaml")).graph
    assert g.nodes["norm1"].attrs == {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}
    assert g.nodes["pool1"].attrs["pool"] == [3, 3] and g.nodes["pool1"].attrs["strides"] == [2, 2]
    assert g.nodes["drop6"].attrs["rate"] == 0.5


def test_zfnet_is_alexnet_with_7x7_stride2_first_conv():
    a = check(os.path.join(SPECS, "zfnet.yaml"))
    conv1 = a.graph.nodes["conv1"].attrs
    assert conv1["kernel"] == [7, 7] and conv1["strides"] == [2, 2]
    sizes = [a.nodes[p].shape[0] for p in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")]
    assert sizes == [110, 55, 26, 13, 13, 6]


def test_inception_v1_heads_and_counts():
    a = check(os.path.join(SPECS, "inception_v1.yaml"))
    outs = {o.name: o for o in a.graph.outputs}
    assert set(outs) == {"main", "aux1", "aux2"}
    assert outs["aux1"].loss_weight == outs["aux2"].loss_weight == 0.3
    assert a.graph.nodes["aux1/pool"].inputs == ("inception_4a/concat",)
    assert a.graph.nodes["aux2/pool"].inputs == ("inception_4d/concat",)
    total = a.totals()["params"]
    heads = sum(i.params for p, i in a.nodes.items() if p.startswith(("aux1/", "aux2/")))
    assert total - heads == 6_998_552  # the paper: "about 6.8 M"
    assert total == 13_378_280
    # Table 1 output sizes
    for path, shape in {"inception_3a/concat": [28, 28, 256], "inception_3b/concat": [28, 28, 480],
                        "inception_4e/concat": [14, 14, 832], "inception_5b/concat": [7, 7, 1024]}.items():
        assert a.nodes[path].shape == shape
    # Table 1 says 159K; this is the exact count with biases
    assert sum(i.params for p, i in a.nodes.items() if p.startswith("inception_3a/")) == 163_696


def test_vgg16_macs():
    macs = check(os.path.join(SPECS, "vgg16.yaml")).totals()["macs"]
    assert round(macs / 1e9, 2) == 15.47


def _resnet50_macs_independent():
    """ResNet-50 v1 (stride on the first 1x1) conv + fc multiply-accumulates, from He et al. Table 1."""
    macs = 112 * 112 * 64 * 7 * 7 * 3
    size, cin = 56, 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            out = size // s
            macs += out * out * width * cin          # 1x1 reduce (strided)
            macs += out * out * width * width * 9    # 3x3
            macs += out * out * width * 4 * width    # 1x1 expand
            if b == 0:
                macs += out * out * 4 * width * cin  # projection
            size, cin = out, 4 * width
    return macs + 2048 * 1000


def test_resnet50_macs_within_one_percent_of_independent_count():
    macs = check(os.path.join(SPECS, "resnet50.yaml")).totals()["macs"]
    independent = _resnet50_macs_independent()
    assert abs(macs - independent) / independent < 0.01
    assert 3.8e9 < macs < 3.9e9  # the paper's "3.8 x 10^9 FLOPs" are multiply-adds


def test_resnet50_receptive_field():
    a = check(os.path.join(SPECS, "resnet50.yaml"))
    last = a.nodes["conv5/block3/out"]
    assert (last.rf, last.jump) == (483, 32)


@pytest.mark.parametrize("path", ALL_SPECS, ids=os.path.basename)
def test_schema_validates_reference_specs(path):
    jsonschema = pytest.importorskip("jsonschema")
    from archspec.writers.schema import build_schema

    schema = build_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(open(path)), schema)


def test_schema_validates_block_libraries_and_rejects_unknown_fields():
    import jsonschema

    from archspec.language.document import STD_BLOCKS
    from archspec.writers.schema import build_schema

    schema = build_schema()
    for path in glob.glob(os.path.join(STD_BLOCKS, "*.yaml")):
        jsonschema.validate(yaml.safe_load(open(path)), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec_version": 1, "layers": [{"conv2d": {"filterz": 3}}]}, schema)


@pytest.mark.parametrize("path", ALL_SPECS, ids=os.path.basename)
def test_resolve_output_checks_to_the_same_summary(path, tmp_path):
    from archspec.analysis.report import summary_json

    a = check(path)
    out = tmp_path / "resolved.yaml"
    out.write_text(to_yaml(a.graph))
    b = check(str(out))
    ja, jb = summary_json(a), summary_json(b)
    assert ja["totals"] == jb["totals"]
    assert ja["nodes"] == jb["nodes"]
    assert ja["hash"] == jb["hash"]
    assert [o.__dict__ for o in a.graph.outputs] != [] and \
        [(o.name, o.node, o.loss_weight) for o in a.graph.outputs] == \
        [(o.name, o.node, o.loss_weight) for o in b.graph.outputs]


def test_summary_json_totals_shape():
    from archspec.analysis.report import summary_json

    j = summary_json(check(os.path.join(SPECS, "resnet50.yaml")), depth=1)
    assert set(j["totals"]) >= {"params", "trainable_params", "non_trainable_params", "macs"}
    json.dumps(j)
    rows = {n["path"]: n for n in j["nodes"]}
    assert rows["conv2"]["kind"] == "bottleneck ×3"
    assert sum(n["params"] for n in j["nodes"]) == j["totals"]["params"]
