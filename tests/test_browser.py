"""Reports checked in a real browser: headless Chromium renders what grading wrote (issue #13, point 8).

One `grade batch` of three digits-cnn notebooks against a copy of the course rubric with a hidden
check added (a trained one whose accuracy check draws a confusion matrix and training curves, one
whose first layer has the wrong padding, one with no convolution at all), and one
`grade ... --student-view` of the trained one, give real reports, the class `index.html` and a
student view. Each page is opened from disk in headless Chromium, and the tests read the page
as rendered (the DOM after load, computed styles, decoded images) against the JSON that grading
wrote beside it: the score, the highlighted first difference, the pictures, what the student view
withholds, the class table and its links, and that the page asked for nothing but itself and
`data:` URLs.

Driver: Selenium with Debian's chromedriver (`chromium-driver`, beside `chromium`). The driver is
given by path, so Selenium Manager never runs (and `SE_OFFLINE` keeps it offline if it did);
ChromeDriver's performance log gives every DevTools `Network.requestWillBeSent` of a page, which
is the record of what it asked for, and its browser log gives console and load errors. Driving
the DevTools protocol by hand would mean our own websocket client and page-lifecycle waits for
the same two logs; Selenium's waits for `load` and its typed API are the smaller thing to trust.

Skipped, with the reason, where Chromium, chromedriver or the selenium package is missing (`./dev`
installs the first two where apt-get exists, the third with the dev extra).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import pytest
from ruamel.yaml import YAML

from grader.rubric.formulas import format_shape
from tests.conftest import REPO, run_grade, write_notebook

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [
    what
    for what, found in (
        ("chromium", CHROMIUM),
        ("chromedriver", CHROMEDRIVER),
        ("the selenium package", find_spec("selenium")),
    )
    if not found
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"the browser tests need {', '.join(MISSING)}: ./dev installs chromium and "
        "chromium-driver where apt-get exists, and selenium with the dev extra",
    ),
]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1024",
)
"""Chromium as root in a container (whose /dev/shm may be small: Debian's wrapper means to add
--disable-dev-shm-usage then, but its test breaks where findmnt lists /dev/shm twice), and quiet:
without the --disable-*-networking, -update and -sync flags it makes requests of its own."""

SECRET = 987654
"""The hidden check's expected parameter count: the full view shows it, the student view must not."""
SECRET_SHOWN = f"{SECRET:,}"
TRAINED = "digits-undertrained"
"""Trains for an epoch: its accuracy check has a confusion matrix and training curves."""
MISMATCH = "valid-padding"
"""Its first Conv2D has padding='valid': the first difference is a layer with a wrong attribute."""
MISSING_LAYERS = "missing-pooling"
"""Its second MaxPooling2D is left out: the first difference is a layer that is missing."""
STUDENTS = (TRAINED, MISMATCH, MISSING_LAYERS)
LAYER_COLUMNS = {"type", "name", "output_shape", "params"}
"""Layer facts the layer table shows in a column (or in bold) rather than as `key=value` lines."""

VALID_PADDING = """\
model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Conv2D(8, 3, padding="valid", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(16, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Flatten(),
    layers.Dropout(0.3),
    layers.Dense(10, activation="softmax"),
])"""

MISSING_POOLING = """\
model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Conv2D(8, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(16, 3, padding="same", activation="relu"),
    layers.Flatten(),
    layers.Dropout(0.3),
    layers.Dense(10, activation="softmax"),
])"""


@dataclass(frozen=True)
class Reports:
    """What grading wrote: the batch's folder (reports and index.html) and the student view's."""

    batch: Path
    student: Path

    def result(self, stem: str, folder: Path | None = None) -> dict[str, Any]:
        return json.loads(((folder or self.batch) / f"{stem}.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Visit:
    """A page as loaded: its URL, every URL it requested, and the browser's SEVERE log lines."""

    url: str
    requests: tuple[str, ...]
    errors: tuple[str, ...]


def write_rubric(folder: Path) -> Path:
    """rubrics/digits-cnn.yaml with a hidden check added (and its data beside it), examples dropped."""
    yaml = YAML()
    rubric = yaml.load((REPO / "rubrics" / "digits-cnn.yaml").read_text(encoding="utf-8"))
    rubric.pop("examples", None)
    rubric["checks"].append(
        {"id": "secret-size", "points": 1, "visibility": "hidden", "total_params": SECRET}
    )
    (folder / "data").mkdir(parents=True)
    for name in ("digits-train.npz", "digits-test.npz"):
        shutil.copy(REPO / "rubrics" / "data" / name, folder / "data" / name)
    path = folder / "digits-cnn.yaml"
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(rubric, handle)
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    root = tmp_path_factory.mktemp("browser")
    rubric = write_rubric(root / "rubric")
    submissions = root / "class"
    submissions.mkdir()
    shutil.copy(REPO / "submissions" / f"{TRAINED}.ipynb", submissions)
    for stem, source in ((MISMATCH, VALID_PADDING), (MISSING_LAYERS, MISSING_POOLING)):
        write_notebook(
            submissions / f"{stem}.ipynb",
            "import keras\nfrom keras import layers\n\nkeras.utils.set_random_seed(0)",
            source,
            exercise="digits-cnn",
        )
    out = root / "reports"
    batch = run_grade("batch", submissions, "--rubric", rubric, "-j", "1", "--out", out, out_dir=out)
    assert batch.returncode == 0, batch.stderr
    student = root / "student"
    viewed = run_grade(
        submissions / f"{TRAINED}.ipynb", "--rubric", rubric, "--student-view", out_dir=student
    )
    assert viewed.returncode == 0, viewed.stderr
    return Reports(out, student)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def visit(driver: WebDriver, page: Path) -> Visit:
    """Open `page` from disk and wait for its `load`; what it requested comes from DevTools' log.

    The logs are emptied on about:blank first, so that they hold this page's load and nothing else.
    """
    driver.get("about:blank")
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(page.as_uri())
    requests = []
    for entry in driver.get_log("performance"):
        event = json.loads(entry["message"])["message"]
        if event["method"] == "Network.requestWillBeSent":
            requests.append(event["params"]["request"]["url"])
    errors = tuple(line["message"] for line in driver.get_log("browser") if line["level"] == "SEVERE")
    return Visit(driver.current_url, tuple(requests), errors)


def body_text(driver: WebDriver) -> str:
    return str(driver.execute_script("return document.body.innerText"))


def score_text(result: dict[str, Any]) -> str:
    return f"{result['score']:g} / {result['max_score']:g}"


def by_css(within: WebDriver | WebElement, selector: str) -> list[WebElement]:
    from selenium.webdriver.common.by import By

    return within.find_elements(By.CSS_SELECTOR, selector)


def shown(value: Any) -> str:
    """A layer attribute as the layer table writes it: shapes and sizes as tuples."""
    return format_shape(value) if isinstance(value, list) else str(value)


def pages(reports: Reports) -> dict[str, Path]:
    return {
        **{stem: reports.batch / f"{stem}.html" for stem in STUDENTS},
        "index": reports.batch / "index.html",
        "student view": reports.student / f"{TRAINED}.html",
    }


@pytest.mark.parametrize("stem", STUDENTS)
def test_the_report_shows_the_score_and_the_checks_of_its_json(
    reports: Reports, browser: WebDriver, stem: str
) -> None:
    result = reports.result(stem)
    visit(browser, reports.batch / f"{stem}.html")

    assert [e.text for e in by_css(browser, ".score")] == [score_text(result)]
    bar, filled = by_css(browser, ".bar")[0], by_css(browser, ".bar > div")[0]
    assert filled.rect["width"] / bar.rect["width"] == pytest.approx(
        result["score"] / result["max_score"], abs=0.01
    )
    checks_table = by_css(browser, "table.checks")[0]
    rows = [by_css(row, "td") for row in by_css(checks_table, "tr")[1:]]
    assert [(cells[1].text, cells[0].text.split()[-1]) for cells in rows] == [
        (check["id"], check["status"]) for check in result["checks"]
    ]
    assert [cells[3].text for cells in rows] == [
        f"{check['points']:g} / {check['max_points']:g}" for check in result["checks"]
    ]


@pytest.mark.parametrize(("stem", "kind"), [(MISMATCH, "mismatch"), (MISSING_LAYERS, "missing")])
def test_the_first_difference_is_highlighted_and_names_what_was_expected_and_what_was_found(
    reports: Reports, browser: WebDriver, stem: str, kind: str
) -> None:
    check = next(c for c in reports.result(stem)["checks"] if c["first_difference"] is not None)
    first = check["layer_rows"][check["first_difference"]]
    assert first["status"] == kind, "the class was meant to show this kind of first difference"
    visit(browser, reports.batch / f"{stem}.html")

    from selenium.webdriver.common.by import By

    table = browser.find_element(By.ID, f"check-{check['id']}").find_element(
        By.XPATH, "following-sibling::div[@class='wide'][1]/table"
    )
    rows = [row for row in by_css(table, "tr") if by_css(row, "td")]
    highlighted = by_css(table, "tr.first")
    assert len(highlighted) == 1 and rows.index(highlighted[0]) == check["first_difference"]
    row = highlighted[0]
    backgrounds = {other.value_of_css_property("background-color") for other in rows if other != row}
    assert row.value_of_css_property("background-color") not in backgrounds, "the row is not highlighted"
    number, expected, actual, *_, status = by_css(row, "td")
    assert number.text == str(first["position"])
    assert expected.text.splitlines()[0] == first["expected"]["type"]
    assert status.text.splitlines()[0] == kind
    if kind == "missing":
        assert first["actual"] is None and actual.text == "(missing)"
        return
    differing = {difference.split(" ", 1)[0] for difference in first["differences"]} - LAYER_COLUMNS
    assert differing, "the JSON names an attribute that differs"
    assert {e.text for e in by_css(expected, ".diff")} == {
        f"{k}={shown(first['expected'][k])}" for k in differing
    }
    assert {e.text for e in by_css(actual, ".diff")} == {
        f"{k}={shown(first['actual'][k])}" for k in differing
    }
    assert actual.text.splitlines()[0].split()[0] == first["actual"]["type"]
    assert first["explanation"] in status.text
    assert by_css(expected, ".diff")[0].value_of_css_property("color") != expected.value_of_css_property(
        "color"
    ), "the differing value is not marked"


@pytest.mark.parametrize("page", [TRAINED, MISMATCH, "student view"])
def test_every_picture_is_decoded_and_each_accuracy_check_has_its_own(
    reports: Reports, browser: WebDriver, page: str
) -> None:
    folder = reports.student if page == "student view" else reports.batch
    stem = TRAINED if page == "student view" else page
    result = reports.result(stem, folder)
    metrics = [c["metrics"] for c in result["checks"] if c.get("metrics")]
    expected = sum(2 if m.get("history") else 1 for m in metrics)
    visit(browser, folder / f"{stem}.html")

    images = browser.execute_script(
        "return Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth,"
        " height: i.naturalHeight, shown: i.getBoundingClientRect().width, alt: i.alt,"
        " scheme: new URL(i.src).protocol}))"
    )
    assert expected >= 1 and len(images) == expected, images
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
        assert image["shown"] > 0 and image["alt"] and image["scheme"] == "data:", image


def test_the_student_view_shows_the_hidden_check_as_hidden_and_never_its_expected_value(
    reports: Reports, browser: WebDriver
) -> None:
    result = reports.result(TRAINED, reports.student)
    hidden = [c for c in result["checks"] if c["visibility"] != "visible"]
    assert [c["id"] for c in hidden] == ["secret-size"] and SECRET_SHOWN in hidden[0]["message"]
    visit(browser, reports.batch / f"{TRAINED}.html")
    assert SECRET_SHOWN in body_text(browser), "the full view shows the hidden check's expected value"

    visit(browser, reports.student / f"{TRAINED}.html")

    text = body_text(browser)
    source = str(browser.execute_script("return document.documentElement.outerHTML"))
    for secret in (str(SECRET), SECRET_SHOWN):
        assert secret not in text and secret not in source and secret not in browser.title
    withheld = by_css(browser, "tr.withheld")
    assert [by_css(row, "td")[1].text for row in withheld] == ["secret-size"]
    assert "hidden until grading" in withheld[0].text
    visible = [c for c in result["checks"] if c["visibility"] == "visible"]
    points, maximum = sum(c["points"] for c in visible), sum(c["max_points"] for c in visible)
    assert [e.text for e in by_css(browser, ".score")] == [f"{points:g} / {maximum:g}"]
    assert (points, maximum) != (result["score"], result["max_score"])
    assert f"{len(hidden)} check(s) hidden until grading" in text


def test_the_class_index_lists_every_student_with_their_score_and_links_to_their_report(
    reports: Reports, browser: WebDriver
) -> None:
    visit(browser, reports.batch / "index.html")

    rows = browser.execute_script(
        "const heading = Array.from(document.querySelectorAll('h2'))"
        ".find(h => h.textContent.trim() === 'Students');"
        "return Array.from(heading.nextElementSibling.querySelectorAll('tr')).filter(r => r.cells[0].tagName === 'TD')"
        ".map(r => [r.cells[0].firstChild.textContent.trim(), r.cells[1].innerText.trim(),"
        " Array.from(r.querySelectorAll('a[href]')).map(a => a.href)])"
    )
    assert {stem: score for stem, score, _ in rows} == {
        stem: score_text(reports.result(stem)) for stem in STUDENTS
    }
    every_link = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
    )
    for link in every_link:
        target = Path(unquote(urlparse(link).path))
        assert urlparse(link).scheme == "file" and target.parent == reports.batch and target.is_file(), link
    for stem, score, links in rows:
        assert [Path(unquote(urlparse(link).path)) for link in links] == [reports.batch / f"{stem}.html"]
        visit(browser, reports.batch / f"{stem}.html")
        assert [e.text for e in by_css(browser, ".score")] == [score], f"{links[0]} is not {stem}'s report"


@pytest.mark.parametrize("page", [*STUDENTS, "index", "student view"])
def test_a_page_requests_nothing_but_itself_and_data_urls_and_logs_no_error(
    reports: Reports, browser: WebDriver, page: str
) -> None:
    path = pages(reports)[page]

    loaded = visit(browser, path)

    assert loaded.url == path.as_uri()
    assert loaded.requests[0] == loaded.url, loaded.requests
    assert [url for url in loaded.requests if url != loaded.url and not url.startswith("data:")] == []
    assert loaded.errors == ()
    assert browser.execute_script("return document.scripts.length") == 0


def test_the_request_and_error_records_see_what_a_page_asks_for(browser: WebDriver, tmp_path: Path) -> None:
    """The check above can fail: a page that loads an outside image and logs an error is caught."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/pixel.png"><img src="elsewhere.png">'
        '<script>console.error("seen")</script>',
        encoding="utf-8",
    )

    loaded = visit(browser, page)

    assert loaded.requests[0] == page.as_uri()
    assert set(loaded.requests[1:]) == {"http://127.0.0.1:9/pixel.png", (tmp_path / "elsewhere.png").as_uri()}
    assert any('"seen"' in line for line in loaded.errors), loaded.errors


# --- any width, any theme (issue #21, item 10; the self-check banner of item 6) ---------------------
#
# Each page is laid out at a phone's width (400 px) and a desktop's (1280 px), in the light and the
# dark colour scheme (DevTools' `Emulation.setDeviceMetricsOverride` and `Emulation.setEmulatedMedia`
# with `prefers-color-scheme`), and measured as drawn: nothing may push the page wider than the
# screen (a wide table scrolls inside its own box), every piece of text must reach a contrast ratio
# of 4.5 with the background it is drawn on (WCAG AA, computed from the colours the browser
# resolved), and a dark scheme must get a dark page. Set GRADER_SCREENSHOTS to a folder to keep a
# PNG of each page so measured.

WIDTHS = (400, 1280)
SCHEMES = ("light", "dark")
MIN_CONTRAST = 4.5
SCREEN_HEIGHT = 900

MEASURE = """
const parse = c => {
  const m = /^rgba?\\((.*)\\)$/.exec(c);
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(parseFloat);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
};
const over = (top, base) => ({
  r: top.r * top.a + base.r * (1 - top.a), g: top.g * top.a + base.g * (1 - top.a),
  b: top.b * top.a + base.b * (1 - top.a), a: 1});
const luminance = c => {
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
};
const ratio = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};
const ground = el => {
  const chain = [];
  for (let e = el; e; e = e.parentElement) chain.unshift(e);
  let base = {r: 255, g: 255, b: 255, a: 1};
  for (const e of chain) {
    const bg = parse(getComputedStyle(e).backgroundColor);
    if (bg && bg.a > 0) base = over(bg, base);
  }
  return base;
};
const texts = [];
for (const el of document.body.querySelectorAll('*')) {
  if (el.closest('title, style, script')) continue;
  const own = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
  const style = getComputedStyle(el);
  if (!own || el.getClientRects().length === 0 || style.visibility !== 'visible') continue;
  const back = ground(el);
  const ink = over(parse(el instanceof SVGElement ? style.fill : style.color), back);
  texts.push({text: own.slice(0, 60), tag: el.tagName, contrast: ratio(ink, back),
              color: el instanceof SVGElement ? style.fill : style.color, background: back});
}
const view = document.documentElement.clientWidth;
const cut = [];
for (const table of document.querySelectorAll('table')) {
  const box = table.getBoundingClientRect();
  if (box.left >= -0.5 && box.right <= view + 0.5) continue;
  let scroller = table.parentElement;
  while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX))
    scroller = scroller.parentElement;
  const frame = scroller && scroller !== document.documentElement && scroller !== document.body
    ? scroller.getBoundingClientRect() : null;
  if (!frame || frame.left < -0.5 || frame.right > view + 0.5 || scroller.scrollWidth < box.width - 0.5)
    cut.push({first: table.innerText.slice(0, 60), left: box.left, right: box.right});
}
return {view, screen: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, texts, cut,
        page: luminance(ground(document.body))};
"""
"""What a page looks like as drawn: its width against the screen's, every text's contrast, the
tables that stick out of the screen without a scrolling box of their own, the page's luminance."""


@contextlib.contextmanager
def screen(driver: WebDriver, width: int, scheme: str) -> Iterator[None]:
    """The browser as a screen `width` CSS pixels wide whose reader prefers the `scheme` colours."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": SCREEN_HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def keep_screenshot(driver: WebDriver, name: str) -> None:
    folder = os.environ.get("GRADER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def assert_readable(measured: dict[str, Any], scheme: str) -> None:
    """Nothing wider than the screen, no table cut, every text at a contrast of 4.5 or more."""
    assert measured["scrollWidth"] <= measured["view"], "the page is wider than the screen"
    assert measured["cut"] == [], "a table is cut off instead of scrolling in its own box"
    assert measured["texts"], "no text was measured"
    faint = [t for t in measured["texts"] if t["contrast"] < MIN_CONTRAST]
    assert faint == [], f"text below a contrast of {MIN_CONTRAST} in the {scheme} scheme"


@pytest.fixture(scope="module")
def self_check_page(reports: Reports, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained notebook's student view as `%grade --html` writes it: with the self-check banner."""
    from grader.render.report import render_html

    page = tmp_path_factory.mktemp("self-check") / f"{TRAINED}.html"
    result = {**reports.result(TRAINED, reports.student), "self_check": True}
    page.write_text(render_html(result, student_view=True), encoding="utf-8")
    return page


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", [*STUDENTS, "index", "student view", "self-check"])
def test_a_page_is_readable_at_a_phones_and_a_desktops_width_in_light_and_dark(
    reports: Reports, self_check_page: Path, browser: WebDriver, page: str, width: int, scheme: str
) -> None:
    path = self_check_page if page == "self-check" else pages(reports)[page]
    with screen(browser, width, scheme):
        visit(browser, path)
        measured = browser.execute_script(MEASURE)
        keep_screenshot(browser, f"{page.replace(' ', '-')}-{width}-{scheme}")

    assert measured["screen"] == width, measured["screen"]
    assert_readable(measured, scheme)
    if scheme == "dark":
        assert measured["page"] < 0.05, "the page stays light for a reader who asked for dark"
    else:
        assert measured["page"] > 0.8, "the page is not light for a reader who asked for light"
    if page == "self-check":
        banner = by_css(browser, ".warn")
        assert banner and banner[0].text.startswith("self-check: not a grade")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_histogram_scales_to_the_screen_and_shows_every_bar_whole(
    reports: Reports, browser: WebDriver, width: int
) -> None:
    with screen(browser, width, "light"):
        visit(browser, reports.batch / "index.html")
        drawn = browser.execute_script(
            "const svg = document.querySelector('svg[aria-label=\"Histogram of scores\"]');"
            "const box = r => { const b = r.getBoundingClientRect();"
            " return {left: b.left, right: b.right, top: b.top, bottom: b.bottom, height: b.height}; };"
            "return {svg: box(svg), view: document.documentElement.clientWidth,"
            " bars: Array.from(svg.querySelectorAll('rect')).map(r => ({box: box(r),"
            "  count: Number(r.querySelector('title').textContent.split(': ').pop())})),"
            " labels: Array.from(svg.querySelectorAll('text')).map(t => ({box: box(t), text: t.textContent}))};"
        )

    frame, view = drawn["svg"], drawn["view"]
    assert frame["left"] >= 0 and frame["right"] <= view, "the histogram is wider than the screen"
    bars = drawn["bars"]
    assert len(bars) == 10 and sum(b["count"] for b in bars) == len(STUDENTS)
    for item in [b["box"] for b in bars] + [t["box"] for t in drawn["labels"]]:
        assert frame["left"] <= item["left"] and item["right"] <= frame["right"], item
        assert frame["top"] <= item["top"] and item["bottom"] <= frame["bottom"], item
    tallest = max(bars, key=lambda b: b["count"])
    label = next(t for t in drawn["labels"] if t["text"] == str(tallest["count"]))
    assert label["box"]["bottom"] <= tallest["box"]["top"] + 1, "the tallest bar's count is not above it"
    for bar in bars:
        assert bar["box"]["height"] == pytest.approx(
            tallest["box"]["height"] * bar["count"] / tallest["count"], abs=1
        )


JUPYTERLAB = {
    "light": "background: #ffffff; color: rgba(0, 0, 0, 0.87);",
    "dark": "background: #111111; color: rgba(255, 255, 255, 0.87);",
}
"""The output area a fragment is shown in: JupyterLab's light and dark themes (layout-color0 and
content-font-color1), whichever colour scheme the reader's system prefers."""


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("theme", sorted(JUPYTERLAB))
def test_the_self_check_fragment_is_readable_in_a_light_and_a_dark_notebook(
    reports: Reports, browser: WebDriver, tmp_path: Path, theme: str, scheme: str
) -> None:
    from grader.render.visibility import render_fragment

    result = {**reports.result(TRAINED, reports.student), "self_check": True}
    fragment = render_fragment(result, student_view=True)
    page = tmp_path / "notebook.html"
    page.write_text(
        '<!doctype html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin: 0; {JUPYTERLAB[theme]}"><div style="padding: 8px 12px;">'
        f"{fragment}</div></body></html>",
        encoding="utf-8",
    )
    with screen(browser, WIDTHS[0], scheme):
        visit(browser, page)
        measured = browser.execute_script(MEASURE)
        keep_screenshot(browser, f"fragment-jupyterlab-{theme}-{scheme}")

    assert_readable(measured, scheme)
    assert "self-check: not a grade" in body_text(browser)


@pytest.mark.parametrize("width", WIDTHS)
def test_each_pass_rate_bar_fills_its_track_in_proportion(
    reports: Reports, browser: WebDriver, width: int
) -> None:
    with screen(browser, width, "light"):
        visit(browser, reports.batch / "index.html")
        bars = browser.execute_script(
            "const box = e => { const b = e.getBoundingClientRect();"
            " return {left: b.left, right: b.right, top: b.top, bottom: b.bottom, width: b.width}; };"
            "return Array.from(document.querySelectorAll('.rate')).map(r => ({fill: box(r),"
            " track: box(r.parentElement), text: r.closest('td').innerText.trim()}));"
        )

    assert bars
    for bar in bars:
        fill, track = bar["fill"], bar["track"]
        passed, total = (int(n) for n in bar["text"].split(" / "))
        assert fill["width"] == pytest.approx(track["width"] * passed / total, abs=1), bar
        assert track["left"] <= fill["left"] and fill["right"] <= track["right"] + 0.5, bar
        assert track["top"] <= fill["top"] and fill["bottom"] <= track["bottom"], "the bar sits off its track"
