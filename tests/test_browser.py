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

import json
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
MISSING_LAYERS = "digits-wrong-input-shape"
"""Dense layers only: the first difference is a Conv2D that is missing."""
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
    for stem in (TRAINED, MISSING_LAYERS):
        shutil.copy(REPO / "submissions" / f"{stem}.ipynb", submissions)
    write_notebook(
        submissions / f"{MISMATCH}.ipynb",
        "import keras\nfrom keras import layers\n\nkeras.utils.set_random_seed(0)",
        VALID_PADDING,
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
    checks_table = by_css(browser, "table")[0]
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
        By.XPATH, "following-sibling::table[1]"
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
