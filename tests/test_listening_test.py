"""The listening test: the site, a real browser rating it, and the analysis of its results."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from console.cli.main import main
from console.data import scan_folder
from console.data.synthetic import write_session
from console.evaluation import load_system
from console.evaluation.run import evaluate
from console.listening.analysis import analyse, rating_summary
from console.listening.student_t import t_quantile_two_sided

SR = 16000
SYSTEMS = ["mono", "loudness"]
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
)


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("listening")
    for i in range(2):
        write_session(root / "data" / f"song_{i}", seed=10 + i, duration=2.0, sample_rate=SR,
                      source="synth", spec="gain+pan")
    evaluate(scan_folder(root / "data"), [load_system(s) for s in SYSTEMS], root / "eval", SR,
             excerpt_seconds=1.0, plots=False, progress=False)
    return root / "eval"


def test_the_site_holds_every_trial_and_its_audio(eval_dir, tmp_path):
    site = tmp_path / "site"
    assert main(["listening-test", str(eval_dir), "-o", str(site), "--title", "A <b> test"]) == 0
    page = (site / "index.html").read_text()
    assert "A &lt;b&gt; test" in page and "mushra.js" in page and "config.js" in page
    config = json.loads((site / "config.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert len(config["trials"]) == 2 and config["systems"] == SYSTEMS
    for trial in config["trials"]:
        assert set(trial["conditions"]) == {*SYSTEMS, "reference", "anchor"}
        assert trial["conditions"]["reference"] == trial["reference"]
        for path in trial["conditions"].values():
            assert (site / path).is_file()
    # rebuilding replaces the earlier site; a folder of other things is refused
    assert main(["listening-test", str(eval_dir), "-o", str(site)]) == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert main(["listening-test", str(eval_dir), "-o", str(other)]) == 2
    assert (other / "keep.txt").read_text() == "mine"


def test_a_folder_without_excerpts_is_refused(tmp_path, capsys):
    assert main(["listening-test", str(tmp_path), "-o", str(tmp_path / "site")]) == 2
    assert "console evaluate" in capsys.readouterr().err


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 7, 12, 29, 60):
        assert t_quantile_two_sided(0.95, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)
        assert t_quantile_two_sided(0.99, df) == pytest.approx(stats.t.ppf(0.995, df), rel=1e-9)


def test_a_rating_summary_is_the_mean_with_a_t_interval():
    summary = rating_summary("x", [40.0, 50.0, 60.0, 70.0])
    half = t_quantile_two_sided(0.95, 3) * 12.909944487358056 / 2.0  # t * s / sqrt(n)
    assert summary.mean == 55.0 and summary.count == 4
    assert summary.std == pytest.approx(12.909944487358056)
    assert (summary.ci_low, summary.ci_high) == pytest.approx((55.0 - half, 55.0 + half))


def _result(source: str, reference: float, mono: float) -> dict:
    trials = [{"song": f"s{i}", "order": ["mono", "reference"],
               "ratings": {"mono": mono + i, "reference": reference}} for i in range(4)]
    return {"format": "console-listening-results", "test_id": "t0", "trials": trials,
            "_source": source}


def test_post_screening_leaves_out_who_missed_the_hidden_reference():
    results = [_result("good", 100.0, 30.0), _result("careless", 50.0, 80.0)]
    pooled = analyse(results)
    assert pooled.participants == 2
    screened = analyse(results, post_screen=True)
    assert screened.excluded == ["careless"] and screened.participants == 1
    mono = next(r for r in screened.ratings if r.system == "mono")
    assert mono.mean == pytest.approx(31.5) and mono.count == 4


def test_analysing_something_else_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something"}))
    assert main(["listening-test", "--analyse", str(bad), "-o", str(tmp_path / "a")]) == 2
    assert "not a listening-test results file" in capsys.readouterr().err


# -- the browser -----------------------------------------------------------------------


def _browser_or_skip():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver)")
    return webdriver, chromium, driver


@pytest.fixture
def served_site(eval_dir, tmp_path):
    site = tmp_path / "site"
    assert main(["listening-test", str(eval_dir), "-o", str(site)]) == 0
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def _set_slider(slider, value: int, keys) -> None:
    """Move a slider with the keyboard, as a participant could."""
    slider.send_keys(keys.HOME)
    if value == 100:
        slider.send_keys(keys.END)
    else:
        slider.send_keys(keys.ARROW_RIGHT * value)


def test_a_participant_rates_in_a_real_browser_and_downloads_the_ratings(
    served_site, tmp_path
):
    webdriver, chromium, driver_path = _browser_or_skip()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
    })
    browser = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    try:
        browser.execute_cdp_cmd("Page.setDownloadBehavior",
                                {"behavior": "allow", "downloadPath": str(downloads)})
        browser.get(served_site)
        decoded = browser.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "var a = new Audio(window.LISTENING_TEST.trials[0].conditions.anchor);"
            "a.oncanplaythrough = function () { done(a.duration); };"
            "a.onerror = function () { done('error ' + a.error.code); };"
        )
        assert decoded == pytest.approx(1.0, abs=0.01)  # the browser decodes the excerpts
        browser.find_element(By.ID, "participant").send_keys("tester 1")
        browser.find_element(By.ID, "start").click()
        given = []
        for trial in range(2):
            sliders = browser.find_elements(By.CSS_SELECTOR, "#conditions input[type=range]")
            assert len(sliders) == len(SYSTEMS) + 2
            next_button = browser.find_element(By.ID, "next")
            assert not next_button.is_enabled()  # nothing rated 100 yet
            values = [100] + [7 + 13 * j + 5 * trial for j in range(len(sliders) - 1)]
            for slider, value in zip(sliders, values, strict=True):
                _set_slider(slider, value, Keys)
            assert [int(s.get_attribute("value")) for s in sliders] == values
            assert next_button.is_enabled()
            given.append(values)
            next_button.click()
        stored = browser.execute_script("return window.listeningTestResults;")
        browser.find_element(By.ID, "download").click()
        saved = _wait_for_download(downloads)
    finally:
        browser.quit()

    results = json.loads(saved.read_text())
    assert results == stored and results["participant"] == "tester 1"
    assert results["format"] == "console-listening-results"
    assert len(results["trials"]) == 2
    assert {t["song"] for t in results["trials"]} == {"song_0", "song_1"}
    for trial, values in zip(results["trials"], given, strict=True):
        assert sorted(trial["order"]) == sorted([*SYSTEMS, "reference", "anchor"])
        assert [trial["ratings"][c] for c in trial["order"]] == values

    out = tmp_path / "analysis"
    assert main(["listening-test", "--analyse", str(saved), "-o", str(out)]) == 0
    summary = json.loads((out / "ratings.json").read_text())
    means = {r["system"]: r["mean"] for r in summary["ratings"]}
    expected = {}
    for trial in results["trials"]:
        for condition, value in trial["ratings"].items():
            expected.setdefault(condition, []).append(value)
    assert means == {c: pytest.approx(sum(v) / len(v)) for c, v in expected.items()}
    assert (out / "ratings.csv").exists() and (out / "ratings.png").exists()


def _wait_for_download(folder: Path, seconds: float = 20.0) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*.json")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no results file was downloaded into {folder}")


# -- what the tool writes, and what it must leave alone ----------------------------------


def _hand_made_evaluation(root: Path, songs: dict[str, str], systems=("mono",)) -> Path:
    """An evaluation folder written by hand: a manifest and tiny WAV excerpts per song."""
    import numpy as np
    import soundfile as sf

    entries = []
    for song, folder in songs.items():
        files = {label: f"{label}.wav" for label in (*systems, "reference", "anchor")}
        for name in files.values():
            path = root / "excerpts" / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, np.zeros((8, 2), dtype=np.float32), SR, subtype="PCM_16")
        entries.append({"song": song, "folder": folder, "files": files})
    manifest = {"format": "console-listening-excerpts", "version": 1, "sample_rate": SR,
                "systems": list(systems), "songs": entries}
    (root / "excerpts" / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_rebuilding_a_site_keeps_files_the_tool_did_not_write(tmp_path):
    two = _hand_made_evaluation(tmp_path / "two", {"s0": "s0", "s1": "s1"})
    one = _hand_made_evaluation(tmp_path / "one", {"s0": "s0"})
    site = tmp_path / "site"
    assert main(["listening-test", str(two), "-o", str(site)]) == 0
    results = site / "listening-results-abc-tester.json"
    results.write_text('{"participant": "tester"}')
    (site / "audio" / "s1" / "notes.txt").write_text("mine")
    assert main(["listening-test", str(one), "-o", str(site)]) == 0
    assert results.read_text() == '{"participant": "tester"}'
    assert (site / "audio" / "s1" / "notes.txt").read_text() == "mine"
    assert not (site / "audio" / "s1" / "mono.wav").exists()  # the tool's own stale file
    config = json.loads((site / "config.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert [t["song"] for t in config["trials"]] == ["s0"]
    # a file of the user's where the new site puts one of its own is refused, not replaced
    (site / "audio" / "s1" / "notes.txt").unlink()
    (site / "audio" / "s1").rmdir()
    (site / "audio" / "s1").mkdir()
    (site / "audio" / "s1" / "mono.wav").write_text("not the tool's")
    assert main(["listening-test", str(two), "-o", str(site)]) == 2
    assert (site / "audio" / "s1" / "mono.wav").read_text() == "not the tool's"
    assert results.exists()


def test_an_existing_file_as_the_output_is_one_clear_error(tmp_path, capsys):
    evaluation = _hand_made_evaluation(tmp_path / "e", {"s0": "s0"})
    taken = tmp_path / "taken.txt"
    taken.write_text("keep")
    assert main(["listening-test", str(evaluation), "-o", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "taken.txt" in err and "folder" in err and len(err.strip().splitlines()) == 1
    results = tmp_path / "r.json"
    results.write_text(json.dumps(_result("p", 100.0, 40.0)))
    assert main(["listening-test", "--analyse", str(results), "-o", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "taken.txt" in err and len(err.strip().splitlines()) == 1
    assert taken.read_text() == "keep"


@pytest.mark.parametrize("folder, file_name", [
    ("../../x", "mono.wav"), ("..", "mono.wav"), ("ABSOLUTE", "mono.wav"),
    ("s0", "../../mono.wav"), ("s0", "sub/../../mono.wav"),
])
def test_manifest_names_may_not_lead_outside_the_site(tmp_path, capsys, folder, file_name):
    evaluation = _hand_made_evaluation(tmp_path / "e", {"s0": "s0"})
    folder = str(tmp_path / "abs") if folder == "ABSOLUTE" else folder
    excerpts = evaluation / "excerpts"
    manifest = json.loads((excerpts / "manifest.json").read_text())
    manifest["songs"][0]["folder"] = folder
    manifest["songs"][0]["files"]["mono"] = file_name
    (excerpts / "manifest.json").write_text(json.dumps(manifest))
    for name in manifest["songs"][0]["files"].values():  # the files it points at exist
        source = excerpts / folder / name
        source.parent.mkdir(parents=True, exist_ok=True)
        if not source.exists():
            shutil.copy(excerpts / "s0" / "reference.wav", source)
    before = sorted(tmp_path.rglob("*"))
    site = tmp_path / "deep" / "er" / "site"
    assert main(["listening-test", str(evaluation), "-o", str(site)]) == 2
    err = capsys.readouterr().err
    assert "not a plain name inside the site" in err and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_two_songs_in_one_excerpt_folder_are_refused(tmp_path, capsys):
    evaluation = _hand_made_evaluation(tmp_path / "e", {"a b": "a-b", "a-b": "a-b"})
    assert main(["listening-test", str(evaluation), "-o", str(tmp_path / "site")]) == 2
    assert "a-b" in capsys.readouterr().err


@pytest.mark.parametrize("rating", [1e9, -1, "NaN", "abc", None, True, float("nan")])
def test_a_rating_that_is_not_a_number_from_0_to_100_names_the_file(tmp_path, capsys, rating):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_result("good", 100.0, 40.0)))
    bad = _result("bad", 100.0, 40.0)
    bad["trials"][2]["ratings"]["mono"] = rating
    bad_path = tmp_path / "bad.json"
    bad_path.write_text(json.dumps(bad))
    out = tmp_path / "analysis"
    assert main(["listening-test", "--analyse", str(good), str(bad_path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "0" in err and "100" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("mangle", [
    lambda r: r["trials"].append("not a trial"),
    lambda r: r["trials"][0].pop("ratings"),
    lambda r: r["trials"][0].update(ratings=[50, 60]),
    lambda r: r["trials"][0].update(ratings={}),
    lambda r: r["trials"][0].update(order=["mono", "anchor"]),
    lambda r: r.update(trials={"a": 1}),
])
def test_results_with_the_wrong_shape_name_the_file(tmp_path, capsys, mangle):
    data = _result("bad", 100.0, 40.0)
    mangle(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["listening-test", "--analyse", str(path), "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and len(err.strip().splitlines()) == 1


def test_ratings_csv_quotes_and_never_writes_a_formula(tmp_path):
    import csv

    data = _result("p", 100.0, 40.0)
    for i, trial in enumerate(data["trials"]):
        trial["ratings"]['=HYPERLINK("http://x","y")'] = 10.0 + i
        trial["ratings"]["a, b"] = 20.0
        trial["order"] = list(trial["ratings"])
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "analysis"
    assert main(["listening-test", "--analyse", str(path), "-o", str(out)]) == 0
    with open(out / "ratings.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    systems = {row["system"] for row in rows}
    assert systems == {"mono", "reference", "a, b", '\'=HYPERLINK("http://x","y")'}
    assert all(len(row) == 6 for row in rows)
    formula = next(row for row in rows if "HYPERLINK" in row["system"])
    assert float(formula["mean"]) == pytest.approx(11.5)


def test_results_of_two_different_tests_are_not_pooled(tmp_path, capsys):
    paths = []
    for test_id in ("aaaa", "bbbb"):
        path = tmp_path / f"{test_id}.json"
        path.write_text(json.dumps({**_result(test_id, 100.0, 40.0), "test_id": test_id}))
        paths.append(str(path))
    assert main(["listening-test", "--analyse", *paths, "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "aaaa.json" in err and "bbbb.json" in err and "different tests" in err


def test_the_help_shows_a_plain_percent_sign(capsys):
    with pytest.raises(SystemExit):
        main(["listening-test", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "95% confidence" in out and "%%" not in out


def test_a_site_from_before_markers_listed_files_is_rebuilt_without_losing_results(tmp_path):
    two = _hand_made_evaluation(tmp_path / "two", {"s0": "s0", "s1": "s1"})
    one = _hand_made_evaluation(tmp_path / "one", {"s0": "s0"})
    site = tmp_path / "site"
    assert main(["listening-test", str(two), "-o", str(site)]) == 0
    marker = site / ".console-listening-site"
    marker.write_text(json.dumps({"test_id": json.loads(marker.read_text())["test_id"]}))
    (site / "listening-results-old.json").write_text("{}")
    assert main(["listening-test", str(one), "-o", str(site)]) == 0
    assert (site / "listening-results-old.json").read_text() == "{}"
    assert not (site / "audio" / "s1").exists()  # what the old config.js played was the tool's
    assert "audio/s0/mono.wav" in json.loads(marker.read_text())["files"]
