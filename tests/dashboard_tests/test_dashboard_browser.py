"""Debian's headless Chromium opens the study in ``tinynas dashboard``: the Pareto-front plot
draws one point per finished trial, and a trial page shows its plots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinynas import study as studies

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
                                reason="Debian's chromium and chromium-driver are not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _keep(driver, tmp_path: Path, name: str) -> Path:
    """Save a screenshot under the test's folder and, if asked, in TINYNAS_TEST_ARTIFACTS."""
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    target = os.environ.get("TINYNAS_TEST_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def test_pareto_front_plot_renders(browser, dashboard, fab, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    storage, name, _ = fab
    study = studies.open_study(storage, name)
    study_id = study._study_id
    finished = len(study.trials)
    browser.get(f"{dashboard}/dashboard/studies/{study_id}")
    points = "#graph-pareto-front .scatterlayer .point"
    WebDriverWait(browser, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, points)) >= finished)
    assert len(browser.find_elements(By.CSS_SELECTOR, points)) == finished
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Pareto Front" in text
    assert studies.OBJECTIVES["accuracy"][2] in text
    shot = _keep(browser, tmp_path, "dashboard_pareto_front.png")
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_trial_page_shows_its_plots(browser, dashboard, fab, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    storage, name, _ = fab
    study = studies.open_study(storage, name)
    trial = next(t for t in study.trials if "accuracy_int8" in t.user_attrs)
    browser.get(f"{dashboard}/dashboard/studies/{study._study_id}/trials?numbers={trial.number}")
    WebDriverWait(browser, 60).until(
        lambda d: {"stages.png", "budget.png"} <= {
            e.get_attribute("alt") for e in d.find_elements(By.TAG_NAME, "img")})
    images = [e for e in browser.find_elements(By.TAG_NAME, "img")
              if e.get_attribute("alt") == "stages.png"]
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return arguments[0].complete && "
                                   "arguments[0].naturalWidth > 0", images[0]))
    assert f"Trial {trial.number}" in browser.find_element(By.TAG_NAME, "body").text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", images[0])
    _keep(browser, tmp_path, "dashboard_trial_artifacts.png")
