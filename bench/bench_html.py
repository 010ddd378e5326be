"""The HTML view in a headless Chromium: time to open the page and to expand every block.

    python bench/bench_html.py specs/resnet152.yaml specs/densenet201.yaml --runs 5

Each spec is rendered once (``archspec render -o X.html``); each run is a fresh browser page: the time from
``driver.get`` until the page says it is ready (data parsed, first layout drawn), then the time of
``archspec.expandAll()`` (every block opened, the layout redone).  Medians and ranges over the runs; the specs
alternate between runs.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def one_run(driver, page):
    t = time.perf_counter()
    driver.get(f"file://{page}")
    while driver.execute_script("return document.body.dataset.ready") != "yes":
        time.sleep(0.01)
    opened = time.perf_counter() - t
    t = time.perf_counter()
    driver.execute_script("window.archspec.expandAll()")
    expanded = time.perf_counter() - t
    return opened, expanded, len(driver.execute_script("return window.archspec.visible()"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    out = tempfile.mkdtemp()
    pages = {}
    for spec in args.specs:
        pages[spec] = os.path.join(out, os.path.basename(spec).replace(".yaml", ".html"))
        subprocess.run([sys.executable, "-c", "import cli; cli.main()", "render", spec, "-o", pages[spec]],
                       cwd=ROOT, check=True, capture_output=True)
    times = {spec: [] for spec in args.specs}
    driver = browser()
    try:
        for _ in range(args.runs):
            for spec in args.specs:
                times[spec].append(one_run(driver, pages[spec]))
    finally:
        driver.quit()
    for spec, runs in times.items():
        opened, expanded = [r[0] for r in runs], [r[1] for r in runs]
        size_mb = os.path.getsize(pages[spec]) / 1e6
        print(f"{os.path.basename(spec):<20} {runs[0][2]:>4} elements expanded, {size_mb:.2f} MB: "
              f"open {statistics.median(opened):.2f} s ({min(opened):.2f}-{max(opened):.2f}), expand all "
              f"{statistics.median(expanded):.2f} s ({min(expanded):.2f}-{max(expanded):.2f}), {args.runs} runs")


if __name__ == "__main__":
    main()
