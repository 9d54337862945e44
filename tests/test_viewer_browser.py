"""The viewer end to end in a real headless Chromium driven by Selenium.

Needs the Debian packages `chromium` and `chromium-driver` and the PyPI extra `rlm[browser]`
(selenium); skips with the reason when any is missing. Nothing is downloaded: the driver and
browser are the system ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from rlm.viewer import ViewerServer

FIXTURES = Path(__file__).parent / "fixtures" / "trajectories"
SCREENSHOT_DIR = Path(os.environ.get("RLM_SCREENSHOT_DIR", Path(__file__).parent / "artifacts"))

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium missing: pip install 'rlm[browser]'"
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="needs Debian packages: apt-get install -y chromium chromium-driver",
    ),
]


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="rlm-viewer-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    # An explicit driver path keeps Selenium Manager from trying to download one.
    service = webdriver.ChromeService(executable_path=DRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def viewer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the page shows the directory as given: "logs"
    logs = Path("logs")
    logs.mkdir()
    for name in ("nested-subcalls.jsonl", "reference-gpt4o-multiturn.jsonl"):
        shutil.copyfile(FIXTURES / name, logs / name)
    with ViewerServer(logs).start() as server:
        yield server


def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def visible_text(driver, css):
    return "\n".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed())


def fold(driver, summary):
    summary.click()
    wait(driver, lambda d: summary.find_element(By.XPATH, "..").get_attribute("open") is None)


def expand(driver, summary):
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    wait(driver, lambda d: summary.find_element(By.XPATH, "..").get_attribute("open") is not None)


def test_nested_run_expands_to_code_output_subcalls_and_child(browser, viewer):
    browser.get(viewer.url + "#run=" + "nested-subcalls.jsonl")
    wait(
        browser,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "h1.run-title"), "revenue growth"),
    )
    # The run list shows both logs (the reference file as six runs) and names the bad file.
    items = browser.find_elements(By.CSS_SELECTOR, ".run-item")
    assert len(items) == 7
    assert "Chapter 2: revenue grew 12%" in browser.find_element(By.CSS_SELECTOR, ".final").text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".chart svg rect.bar")) >= 4

    iteration = browser.find_element(By.CSS_SELECTOR, "#iter-1 > summary")
    assert "2 sub-calls" in iteration.text
    expand(browser, iteration)
    body = browser.find_element(By.CSS_SELECTOR, "#iter-1 > .body")
    code = body.find_element(By.CSS_SELECTOR, "pre.code")
    assert code.is_displayed() and "rlm_query(" in code.text
    assert code.find_elements(By.CSS_SELECTOR, "span.tok-rlm")  # highlighted
    assert "No, chapter 1 is about leadership changes." in visible_text(browser, "#iter-1 pre.out")

    subcalls = browser.find_elements(
        By.CSS_SELECTOR, "#iter-1 > .body > .block > details.subcall > summary"
    )
    assert len(subcalls) == 2
    expand(browser, subcalls[0])
    assert "Does this chapter mention revenue?" in visible_text(
        browser, "#iter-1 .subcall pre.text"
    )

    expand(browser, subcalls[1])
    child = (
        subcalls[1]
        .find_element(By.XPATH, "..")
        .find_element(By.CSS_SELECTOR, "details.child > summary")
    )
    assert "depth 1" in child.text
    expand(browser, child)
    child_iter = child.find_element(By.XPATH, "..").find_element(
        By.CSS_SELECTOR, "details.iter > summary"
    )
    expand(browser, child_iter)
    text = visible_text(browser, "#iter-1 details.child pre.code, #iter-1 details.child pre.out")
    assert "summary = llm_query('Summarise: ' + context[:2000])" in text
    assert "Chapter 2 reports revenue up 12% on cloud demand." in text

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.execute_script("document.querySelector('#run').scrollTop = 0")
    assert browser.save_screenshot(str(SCREENSHOT_DIR / "viewer-nested.png"))
    fold(browser, subcalls[0])  # fold the first sub-call again: the picture is the child tree
    browser.execute_script("document.querySelector('#iter-1').scrollIntoView({block: 'start'})")
    assert browser.save_screenshot(str(SCREENSHOT_DIR / "viewer-nested-expanded.png"))
    # A taller picture of the whole page state (the one docs/viewer.png is copied from).
    browser.set_window_size(1400, 1700)
    browser.execute_script("document.querySelector('#run').scrollTop = 0")
    assert browser.save_screenshot(str(SCREENSHOT_DIR / "viewer-overview.png"))
    browser.set_window_size(1400, 1000)


def test_error_output_bad_file_and_search(browser, viewer):
    Path("logs", "broken.jsonl").write_text("{not json\n")
    browser.get(viewer.url + "#run=" + "nested-subcalls.jsonl")
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "#iter-2")))
    expand(browser, browser.find_element(By.CSS_SELECTOR, "#iter-2 > summary"))
    assert "TypeError: unsupported operand" in visible_text(browser, "#iter-2 pre.err")
    assert "broken.jsonl:1: not valid JSON" in browser.find_element(By.ID, "log-errors").text

    box = browser.find_element(By.ID, "search")
    box.send_keys("leadership")
    # The run list narrows to the run containing the text and the match is marked and shown.
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".run-item")) == 1)
    wait(
        browser,
        lambda d: any(m.is_displayed() for m in d.find_elements(By.CSS_SELECTOR, "#run mark")),
    )
    assert "matches" in browser.find_element(By.ID, "search-count").text


def test_reference_log_runs_open(browser, viewer):
    browser.get(viewer.url + "#run=" + "reference-gpt4o-multiturn.jsonl%232")
    wait(
        browser,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "h1.run-title"), "What was the number"),
    )
    first = browser.find_element(By.CSS_SELECTOR, "#iter-0 > summary")
    assert "Iteration 5" in first.text  # the reference numbers iterations across the file
    expand(browser, first)
    assert "print(" in visible_text(browser, "#iter-0 pre.code")
    assert browser.find_element(By.CSS_SELECTOR, ".final").text.strip().endswith("15")
    browser.save_screenshot(str(SCREENSHOT_DIR / "viewer-reference.png"))


def test_a_log_written_by_the_engine(browser, tmp_path):
    """What `rlm run` writes, child trajectory included, renders and expands."""
    from rlm import RLM
    from rlm.logger import RLMLogger

    answers = iter(
        [
            "```repl\nprint(rlm_query('count the words'))\n```",  # root
            "```repl\nwords = len(context.split())\nprint('child saw', words)\n```",  # child
            "FINAL_VAR(words)",  # child
            "FINAL(the child counted 3)",  # root
        ]
    )
    logger = RLMLogger(log_dir=tmp_path / "engine")
    with RLM(
        backend="function",
        environment="local",
        backend_kwargs={"function": lambda messages: next(answers)},
        max_depth=2,
        logger=logger,
    ) as rlm:
        rlm.completion("one two three", root_prompt="how many words?")
    with ViewerServer(tmp_path / "engine").start() as server:
        browser.get(server.url)
        wait(
            browser,
            EC.text_to_be_present_in_element((By.CSS_SELECTOR, "h1.run-title"), "how many words?"),
        )
        assert "the child counted 3" in browser.find_element(By.CSS_SELECTOR, ".final").text
        expand(browser, browser.find_element(By.CSS_SELECTOR, "#iter-0 > summary"))
        expand(browser, browser.find_element(By.CSS_SELECTOR, "#iter-0 details.subcall > summary"))
        expand(browser, browser.find_element(By.CSS_SELECTOR, "#iter-0 details.child > summary"))
        expand(
            browser,
            browser.find_element(By.CSS_SELECTOR, "#iter-0 details.child details.iter > summary"),
        )
        text = visible_text(browser, "#iter-0 details.child pre")
        assert "words = len(context.split())" in text
        assert "child saw" in text


def test_a_run_being_written_offers_its_new_iterations(browser, viewer):
    lines = (FIXTURES / "nested-subcalls.jsonl").read_text().splitlines(keepends=True)
    live = Path("logs", "live.jsonl")
    live.write_text("".join(lines[:2]))
    browser.get(viewer.url + "#run=live.jsonl")
    wait(browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".warn"), "still going"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#run details.iter[data-depth='0']")) == 1
    with live.open("a") as f:
        f.writelines(lines[2:])
    button = wait(browser, EC.element_to_be_clickable((By.ID, "update-banner")))
    button.click()
    wait(
        browser,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#run details.iter[data-depth='0']")) == 4,
    )
    assert "Chapter 2: revenue grew 12%" in browser.find_element(By.CSS_SELECTOR, ".final").text
