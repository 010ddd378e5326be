"""`archspec render SPEC -o model.html`: a self-contained page, driven in a real headless Chromium."""

import json
import os
import re
import shutil
import time

import pytest

from tests.helpers import SPECS, run_cli

# its module-scoped fixture (a real run or page) is made once: every test of the module on one xdist worker
pytestmark = pytest.mark.xdist_group("test_html_view")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "resnet50.html"
    r = run_cli("render", os.path.join(SPECS, "resnet50.yaml"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_the_page_is_self_contained(page):
    text = page.read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)  # nothing fetched: works offline
    assert "Copyright (c) 2016-2024, The Cytoscape Consortium" in text  # the bundled libraries' licences
    data = json.loads(text.split('id="archspec-data">')[1].split("</script>")[0])  # the JSON ends where it should
    assert "conv2/block1/conv_a" in [n["id"] for n in data["nodes"]] and len(data["nodes"]) == 177


def test_a_spec_with_errors_gives_the_errors_and_no_page(tmp_path, write_spec):
    spec = write_spec("spec_version: 1\nlayers:\n  - input: {shape: [8]}\n  - dense: {units: 0}\n")
    r = run_cli("render", spec, "-o", str(tmp_path / "x.html"))
    assert r.returncode == 1 and f"{spec}:4:" in r.stderr and not (tmp_path / "x.html").exists()


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        if os.environ.get("ARCHSPEC_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required here (ARCHSPEC_REQUIRE_BROWSER is set)")
        pytest.skip("no chromium/chromedriver on this machine (.ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _open(driver, path):
    driver.get(f"file://{path}")
    deadline = time.monotonic() + 60
    while driver.execute_script("return document.body.dataset.ready") != "yes":
        assert time.monotonic() < deadline, "the page did not become ready"
        time.sleep(0.05)


def _click(driver, node_id, hover_only=False):
    """A real mouse event on the node's place on the canvas."""
    from selenium.webdriver.common.action_chains import ActionChains

    x, y = driver.execute_script(  # scrolled into view first, as a user would pan to it
        "const cy = window.archspec._cy; const n = cy.getElementById(arguments[0]); cy.center(n);"
        "const p = n.renderedPosition(); return [p.x, p.y];", node_id)
    graph = driver.find_element("id", "graph")
    size = graph.size
    actions = ActionChains(driver).move_to_element_with_offset(graph, int(x - size["width"] / 2),
                                                               int(y - size["height"] / 2))
    (actions if hover_only else actions.click()).perform()


def _info(driver):
    """The info panel's rows, {name: value}."""
    return dict(driver.execute_script(
        "return Array.from(document.querySelectorAll('#info-rows tr'))"
        ".map((r) => Array.from(r.cells).map((c) => c.textContent));"))


def test_blocks_start_collapsed_and_expand_on_a_click(browser, page, tmp_path):
    _open(browser, page)
    visible = set(browser.execute_script("return window.archspec.visible()"))
    assert {"conv1", "conv2", "conv5", "predictions"} <= visible and "conv2/block1" not in visible
    _click(browser, "conv2")  # the repeat ×3 opens: its three blocks appear, still folded
    visible = set(browser.execute_script("return window.archspec.visible()"))
    assert {"conv2", "conv2/block1", "conv2/block2", "conv2/block3"} <= visible
    assert "conv2/block1/conv_a" not in visible
    _click(browser, "conv2/block1")
    visible = set(browser.execute_script("return window.archspec.visible()"))
    assert {"conv2/block1/conv_a", "conv2/block1/bn_a", "conv2/block1/proj", "conv2/block1/add"} <= visible
    _click(browser, "conv2/block1/conv_b", hover_only=True)
    info = _info(browser)
    assert info["node"] == "conv2/block1/conv_b" and info["kind"].startswith("conv 3×3")
    assert info["output"] == "56×56×64" and info["params"] == "36,928"
    assert re.search(r"archspec/blocks/resnet\.yaml:\d+:\d+$", info["defined at"])
    browser.save_screenshot(str(tmp_path / "resnet50.png"))
    assert (tmp_path / "resnet50.png").stat().st_size > 10_000


def test_the_search_box_finds_and_reveals_a_node(browser, page):
    _open(browser, page)
    box = browser.find_element("id", "search")
    box.send_keys("conv4/block5/conv_c")
    deadline = time.monotonic() + 30
    while "1 found" not in browser.find_element("id", "found").text:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "conv4/block5/conv_c" in browser.execute_script("return window.archspec.visible()")
    assert _info(browser)["node"] == "conv4/block5/conv_c"
    browser.execute_script("window.archspec.expandAll()")
    assert len(browser.execute_script("return window.archspec.visible()")) >= 177  # every layer, and the blocks


def _page_data(path):
    text = path.read_text()
    return json.loads(text.split('id="archspec-data">')[1].split("</script>")[0])


def test_render_diff_marks_the_changes_against_the_other_spec(tmp_path):
    out = tmp_path / "alexnet-zfnet.html"
    r = run_cli("render", os.path.join(SPECS, "alexnet.yaml"), "-o", str(out), "--diff",
                os.path.join(SPECS, "zfnet.yaml"))
    assert r.returncode == 0, r.stderr
    marked = {n["id"]: n for n in _page_data(out)["nodes"] if n.get("diff")}
    assert marked["conv1"]["diff"] == "changed"  # ZFNet's 7x7/2 first layer and the shapes after it
    assert "kernel: [11, 11] → [7, 7]" in marked["conv1"]["change"] and "strides: [4, 4] → [2, 2]" in \
        marked["conv1"]["change"]
    assert marked["norm1"]["change"] == "output 55×55×96 → 110×110×96"


@pytest.mark.parametrize("output, other, message", [
    ("x.svg", "zfnet.yaml", "--diff marks the differences in the interactive view"),
    ("x.html", "not-a-spec.yaml", "not-a-spec.yaml"),
])
def test_render_diff_bad_input_is_one_line_and_exit_1(tmp_path, output, other, message):
    other_path = os.path.join(SPECS, other) if other != "not-a-spec.yaml" else str(tmp_path / other)
    if other == "not-a-spec.yaml":
        (tmp_path / other).write_text("hello: [\n")
    r = run_cli("render", os.path.join(SPECS, "alexnet.yaml"), "-o", str(tmp_path / output), "--diff", other_path)
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / output).exists()


def test_render_diff_draws_the_added_blocks_in(browser, tmp_path):
    out = tmp_path / "resnet50-101.html"
    r = run_cli("render", os.path.join(SPECS, "resnet50.yaml"), "-o", str(out), "--diff",
                os.path.join(SPECS, "resnet101.yaml"))
    assert r.returncode == 0, r.stderr
    _open(browser, out)
    assert dict(browser.execute_script("return window.archspec.info('conv4')"))["differs"]
    _click(browser, "conv4")  # the repeat opens: ResNet-50's six blocks and ResNet-101's seventeen more
    visible = set(browser.execute_script("return window.archspec.visible()"))
    assert {"conv4/block6", "+conv4/block7", "+conv4/block23"} <= visible
    browser.execute_script("window.archspec.toggle('+conv4/block7')")
    assert "+conv4/block7/conv_a" in browser.execute_script("return window.archspec.visible()")
    _click(browser, "+conv4/block7/conv_a", hover_only=True)
    assert _info(browser)["added"] == "only in the other spec"
    browser.save_screenshot(str(tmp_path / "diff.png"))
