"""What a spec says reaches a page as text, never as markup."""

import json

from tests.helpers import run_cli

HOSTILE = "<!--<script>alert(1)&amp;"  # a file name: reaches the page as each node's file:line:col


def test_markup_in_a_spec_stays_text_in_the_html_view(tmp_path, write_spec):
    spec = write_spec("""\
spec_version: 1
name: page
layers:
  - input: {id: image, shape: [8, 8, 1]}
  - conv2d: {id: c1, filters: 2, kernel: 3, quiet: [unseen_border]}
""", name=f"{HOSTILE}.yaml")
    out = tmp_path / "page.html"
    r = run_cli("render", spec, "-o", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    block = page.split('id="archspec-data">')[1].split("</script>")[0]
    assert "<" not in block and ">" not in block and "&" not in block
    assert HOSTILE in json.dumps(json.loads(block), ensure_ascii=False)


def test_control_characters_from_files_are_shown_escaped():
    from cli import shown

    assert shown("cat\x1b[2J\x1b[31m") == "cat\\x1b[2J\\x1b[31m"
    assert shown("a.png: dog (1.000)\nb.png") == "a.png: dog (1.000)\\nb.png"
    assert shown("naïve 猫") == "naïve 猫"
