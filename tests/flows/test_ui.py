"""The Prefect UI as a user sees it: a real server, the deployments served by `python -m flows.serve`, the quick
train-lvae and walk-forward deployments run through the CLI, and their flow-run pages opened in headless
Chromium (Debian's `chromium`, driven by Playwright). Skips when either is absent.

Screenshots go to tmp_path; with LADDER_TRADER_SCREENSHOTS=<dir> also to <dir> (the README's are in docs/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from server_support import PREFECT, prefect_server, serving, wait_for  # noqa: E402

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


def _run_deployment(name: str, env: dict[str, str]) -> str:
    run = subprocess.run([PREFECT, "deployment", "run", name], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return re.search(r"UUID: ([0-9a-f-]{36})", run.stdout).group(1)


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    if os.environ.get("LADDER_TRADER_SCREENSHOTS"):
        out = Path(os.environ["LADDER_TRADER_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, out / name)


def _open_artifact(page, ui: str, flow_run: str, key: str) -> None:
    """The flow run's page, its Artifacts tab, then the artifact's own page (as a user clicks through)."""
    page.goto(f"{ui}/runs/flow-run/{flow_run}", wait_until="networkidle")
    page.get_by_text("Artifacts", exact=True).first.click()
    page.get_by_text(key, exact=True).first.click()
    page.wait_for_url(re.compile(r"/artifacts/artifact/"))
    page.wait_for_load_state("networkidle")


def _images_shown(page) -> list[int]:
    """Natural widths of the embedded PNGs on the page once loaded (0: a broken image)."""
    images = page.locator('img[src^="data:image/png"]')
    wait_for(lambda: images.count() > 0, 30, "an embedded image")
    return [images.nth(i).evaluate("e => e.complete ? e.naturalWidth : 0") for i in range(images.count())]


def test_flow_run_pages_show_the_results_table_the_verdict_and_the_plots(browser, tmp_path):
    from prefect.client.orchestration import SyncPrefectClient

    with prefect_server(tmp_path) as (url, env), serving(env, tmp_path) as (work, serve_proc):
        with SyncPrefectClient(api=url) as client:

            def deployed():
                assert serve_proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                try:
                    return client.read_deployment_by_name("walk-forward/quick")
                except Exception:  # not registered yet
                    return None

            wait_for(deployed, 120, "the served deployments", interval=0.5)
            t0 = time.monotonic()
            runs = {name: _run_deployment(f"{name}/quick", env) for name in ("train-lvae", "walk-forward")}

            def final(flow_run: str):
                fr = client.read_flow_run(flow_run)
                return fr if fr.state is not None and fr.state.is_final() else None

            for name, flow_run in runs.items():
                fr = wait_for(lambda flow_run=flow_run: final(flow_run), 300, f"{name}'s final state", interval=1.0)
                assert fr.state.is_completed(), f"{fr.state}\n" + (tmp_path / "serve.log").read_text()[-4000:]
            print(f"both quick runs done {time.monotonic() - t0:.0f} s after they were started")

        ui = url.removesuffix("/api")
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{ui}/runs/flow-run/{runs['walk-forward']}", wait_until="networkidle")
        page.get_by_text("Artifacts", exact=True).first.click()
        for key in ("walk-forward-verdict", "walk-forward-results", "walk-forward-report", "walk-forward-folder"):
            page.get_by_text(key, exact=True).first.wait_for()
        assert page.get_by_text("What the numbers support", exact=False).count() == 1  # the cards say what each is
        page.get_by_text("Flow run", exact=True).first.scroll_into_view_if_needed()
        page.mouse.wheel(0, 300)
        _shot(page, tmp_path, "prefect-walk-forward-artifacts.png")

        _open_artifact(page, ui, runs["walk-forward"], "walk-forward-results")
        table = page.locator("table")
        table.locator("td", has_text="ppo/lvae").first.wait_for()
        header = [h.strip() for h in table.locator("th").all_inner_texts()]
        assert header[:3] == ["config", "cost_bps", "seeds"] and "sharpe" in header
        configs = [c.strip() for c in table.locator("tbody tr td:first-child").all_inner_texts()]
        assert {"ppo/lvae", "ppo/vae", "ppo/pca", "ppo/raw", "buy_and_hold", "cash"} <= set(configs)
        _shot(page, tmp_path, "prefect-walk-forward-results.png")

        _open_artifact(page, ui, runs["walk-forward"], "walk-forward-verdict")
        page.get_by_role("heading", name="Verdict").wait_for()
        text = page.locator("body").inner_text()
        assert re.search(r"Out of sample \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d, 1 fold", text)
        assert re.search(r"beating buy_and_hold \(SPA p = \d\.\d\d\)", text)
        widths = _images_shown(page)
        assert len(widths) == 2 and min(widths) >= 800  # verdict_equity.png and verdict_cost.png, rendered
        page.locator('img[src^="data:image/png"]').first.scroll_into_view_if_needed()
        _shot(page, tmp_path, "prefect-walk-forward-verdict.png")

        _open_artifact(page, ui, runs["train-lvae"], "train-lvae-summary")
        page.get_by_role("heading", name=re.compile(r"LVAE build")).wait_for()
        assert "final ELBO: train" in page.locator("body").inner_text()
        (width,) = _images_shown(page)  # the latent PCA plot
        assert width >= 400
        page.locator('img[src^="data:image/png"]').first.scroll_into_view_if_needed()
        _shot(page, tmp_path, "prefect-train-lvae-summary.png")
