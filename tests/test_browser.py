"""The report site in a real browser: headless Chromium (Debian's chromium + chromium-driver) over file://.

Set GANBENCH_SCREENSHOT=PATH to keep the screenshot somewhere (default: the test's temp folder).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ganbench.report.site import build_site, page_name
from tests.test_report import _classwise, _run_folder, make_record, store_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Chromium is not installed: apt-get install chromium chromium-driver (.ci/run does this)",
)
NASTY = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    run = _run_folder(tmp, [100, 200])
    recs = [
        make_record(
            "x",
            31.0,
            samples_path=str(run / "samples" / "100"),
            created="2026-01-01T00:00:01",
            ci=(29.0, 33.0),
            classwise=_classwise(),
        ),
        make_record("x", 80.0, samples_path=str(run / "samples" / "200"), created="2026-01-01T00:00:02"),
        make_record(NASTY, 30.0, ci=(28.5, 31.5)),
        make_record("acgan-ema", 45.0, ci=(44.0, 46.0)),
        make_record("baseline-dcgan", 120.0),
        make_record("small-run", 70.0, n=500),
    ]
    recs[0]["metrics"] |= {"ifid": 41.0, "classifier_accuracy": 0.62}
    store = store_of(tmp, recs)
    (store / "half-written.json").write_text('{"schema": 1, "metrics": {')
    return build_site(store, tmp / "site").index


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--window-size=1200,900",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


def _open(driver, url: str) -> None:
    """Load `url` and wait for its load event (get() can return while a navigation the page started, e.g. a
    clicked link, is still settling on a busy machine)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _broken_images(driver) -> tuple[int, list[str]]:
    n, broken = driver.execute_script(
        "const imgs = Array.from(document.images);"
        "return [imgs.length, imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)];"
    )
    return n, broken


def _models(driver, group: int = 1) -> list[str]:
    cells = driver.find_elements("css selector", f"#setup-{group} tbody td.model a")
    return [c.text for c in cells]


def _marks(driver, group: int = 1) -> list[str]:
    return [c.text for c in driver.find_elements("css selector", f"#setup-{group} tbody td.sig")]


def _click_header(driver, key: str, group: int = 1) -> None:
    driver.find_element("css selector", f'#setup-{group} th[data-key="{key}"] button').click()


def test_leaderboard_sorts_escapes_and_loads_cleanly(driver, site):
    _open(driver, site.as_uri())
    assert driver.title == "ganbench leaderboard"
    ranked = _models(driver)
    assert ranked == [
        NASTY,
        "00001-cgan",
        "acgan-ema",
        "00001-cgan",
        "baseline-dcgan",
    ]  # x: best, then latest
    assert _marks(driver) == ["", "≈", "", "", ""]  # the two intervals that overlap: 28.5-31.5 and 29-33
    # the nasty model name is text, not markup: no alert, no extra script element
    assert driver.execute_script("return document.scripts.length") == 1
    assert driver.find_element("css selector", "#setup-1 td.model a").text == NASTY

    _click_header(driver, "model")
    by_name = _models(driver)
    # text sorts with the browser's collation (punctuation before digits before letters)
    assert by_name != ranked and by_name == [NASTY, "00001-cgan", "00001-cgan", "acgan-ema", "baseline-dcgan"]
    assert _marks(driver) == [""] * 5  # overlap marks mean something only in FID order
    _click_header(driver, "model")
    assert _models(driver) == by_name[::-1]
    _click_header(driver, "fid")  # a newly clicked column sorts ascending: back to the ranking and its marks
    assert _models(driver) == ranked and _marks(driver) == ["", "≈", "", "", ""]
    _click_header(driver, "fid")
    assert _models(driver) == ranked[::-1] and _marks(driver) == ["", "", "", "", "≈"]
    header = driver.find_element("css selector", '#setup-1 th[data-key="fid"]')
    assert header.get_attribute("aria-sort") == "descending"

    assert "small-run" in _models(driver, 2) and "sample count 500 vs 1,000" in driver.page_source
    assert "half-written.json" in driver.find_element("id", "skipped").text
    reported = driver.find_element("id", "reported")
    assert "not measured here" in reported.text and "StyleGAN2-ADA" in reported.text
    assert _broken_images(driver)[1] == []
    assert _console_errors(driver) == []

    shot = Path(os.environ.get("GANBENCH_SCREENSHOT") or site.parent.parent / "report.png")
    _click_header(driver, "fid")  # back to the ranking for the picture
    driver.save_screenshot(str(shot))
    with Image.open(shot) as im:  # keep it small: a 256-colour palette image of the viewport
        im.convert("RGB").quantize(colors=128).save(shot, optimize=True)
    assert shot.stat().st_size < 300_000
    print(f"screenshot: {shot}")


def test_run_page_images_all_load(driver, site):
    _open(driver, site.as_uri())
    driver.find_elements("css selector", "#setup-1 td.model a")[1].click()  # 00001-cgan, through the link
    assert driver.current_url.endswith(page_name("00001-cgan"))
    n, broken = _broken_images(driver)
    assert n == 5 and broken == []  # grid, per-class bars, confusion matrix, learning curves, FID vs step
    for section in ("samples", "per-class", "training", "records"):
        assert driver.find_element("id", section).is_displayed()
    assert _console_errors(driver) == []

    _open(driver, (site.parent / "runs" / page_name(NASTY)).as_uri())
    assert driver.find_element("tag name", "h1").text == NASTY
    assert "no sample grid" in driver.find_element("id", "samples").text
    assert _broken_images(driver) == (0, []) and _console_errors(driver) == []


def test_seeded_rows_marks_grid_and_compute_figure_in_the_browser(driver, tmp_path):
    """Rows over training seeds keep their between-seed marks when the table is re-sorted; the seed-0 grid
    beside a record and the quality-against-compute figure load on the site built from the store."""
    from tests.test_seeds import _curve, seeded

    recs = [
        *(seeded("acgan", v, i) for i, v in enumerate([30.0, 31.0, 32.0])),
        *(seeded("biggan", v, i) for i, v in enumerate([40.0, 41.0, 42.0])),
        *(seeded("cgan", v, i) for i, v in enumerate([41.5, 44.0, 39.0])),
        seeded("dcgan", 60.0, 0),
        *(seeded("wgan", v, i) for i, v in enumerate([62.0, 63.0, 64.0])),
        make_record("mine", 70.0, ci=(69.0, 71.0)),
    ]
    store = tmp_path / "results"
    store.mkdir()
    for i, rec in enumerate(recs):
        if rec.get("benchmark") and rec["benchmark"]["seed"] == 0:
            grid = f"grid-{i}.png"
            Image.new("RGB", (320, 320), (200, 40 * (i % 5), 90)).save(store / grid)
            rec["benchmark"]["grid"] = grid
        (store / f"rec-{i}.json").write_text(json.dumps(rec))
    (store / "curves").mkdir()
    curve = _curve("acgan", [(2000, 9.0, 120.0), (14000, 64.0, 40.0)])
    (store / "curves" / "acgan-seed0.json").write_text(json.dumps(curve))
    index = build_site(store, tmp_path / "site").index

    _open(driver, index.as_uri())
    ranked = ["acgan", "biggan", "cgan", "dcgan", "wgan", "mine"]
    one, above = "1 seed: ranking not tested", "row above: 1 seed, not tested"
    assert _models(driver) == ranked and _marks(driver) == ["", "", "≈", one, above, ""]
    _click_header(driver, "fid")  # descending: each row against its new neighbour above
    assert _models(driver) == ranked[::-1] and _marks(driver) == ["", "", one, above, "≈", ""]
    _click_header(driver, "model")
    assert _marks(driver) == [""] * 6
    n, broken = _broken_images(driver)
    assert n == 1 and broken == []  # the compute figure
    assert "Quality against compute" in driver.page_source and _console_errors(driver) == []
    _open(driver, (index.parent / "runs" / page_name("acgan")).as_uri())
    n, broken = _broken_images(driver)
    assert n >= 1 and broken == [] and "final sample grid of training seed 0" in driver.page_source
    assert "Training seeds" in driver.page_source


def test_the_committed_benchmark_shows_its_grids_and_compute_figure(driver, tmp_path):
    """The site `make demo` builds beside a newcomer's run, from the records committed in the repository:
    every seed-0 row of the seeded protocol shows its stored grid, and the quality-against-compute figure
    loads, in a real browser."""
    from ganbench.results import get_path

    committed = Path(__file__).resolve().parents[1] / "leaderboard" / "results" / "benchmark-cpu"
    recs = [json.loads(p.read_text()) for p in sorted(committed.glob("*.json"))]
    seed0 = [r for r in recs if get_path(r, "benchmark", "seed") == 0]
    assert seed0, "no committed record of the seeded protocol"
    assert all((committed / r["benchmark"]["grid"]).is_file() for r in seed0)  # each names a committed grid
    own = tmp_path / "results"
    own.mkdir()
    index = build_site(own, tmp_path / "site", committed=[committed]).index

    _open(driver, index.as_uri())
    n, broken = _broken_images(driver)
    assert broken == [] and _console_errors(driver) == []
    if (committed / "curves").is_dir():
        assert n >= 1 and "Quality against compute" in driver.page_source
    for rec in seed0:
        _open(driver, (index.parent / "runs" / page_name(rec["benchmark"]["name"])).as_uri())
        n, broken = _broken_images(driver)
        assert n >= 1 and broken == [], rec["benchmark"]["name"]
        assert "final sample grid of training seed 0" in driver.page_source
