"""data_scripts/prepare_darn.py against a local HTTP server started inside the test (127.0.0.1, port 0):
valid JPEGs, 404/410, a handler slower than the timeout, HTML and truncated bodies, a URL that fails once."""
from __future__ import annotations

import csv
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

try:
    from fixtures_real import jpeg_bytes, write_jpeg
except ImportError:  # tests/ imported as a package
    from tests.fixtures_real import jpeg_bytes, write_jpeg

from asen.layout import load_split_files
from data_scripts import prepare_darn as pdarn

TIMEOUT = 0.8  # generous for localhost even on a loaded machine; the slow route exceeds it
SLOW = 2.0  # the slow handler answers after this many seconds (> TIMEOUT)
N_OK = 12


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def do_GET(self):
        state = self.server.state
        with state["lock"]:
            state["hits"][self.path] += 1
            n = state["hits"][self.path]
        if self.path.startswith("/ok/"):
            self._send(200, jpeg_bytes(int(self.path.split("/")[-1].split(".")[0])), "image/jpeg")
        elif self.path == "/missing":
            self._send(404, b"not found", "text/plain")
        elif self.path == "/gone":
            self._send(410, b"gone", "text/plain")
        elif self.path == "/slow":
            time.sleep(SLOW)
            self._send(200, jpeg_bytes(1), "image/jpeg")
        elif self.path == "/html":
            self._send(200, b"<html><body>This image is no longer available</body></html>", "text/html")
        elif self.path == "/truncated":
            data = jpeg_bytes(2)
            self._send(200, data[: len(data) // 2], "image/jpeg")
        elif self.path == "/flaky":
            if n == 1:
                self._send(503, b"busy", "text/plain")
            else:
                self._send(200, jpeg_bytes(4), "image/jpeg")
        else:
            self._send(404, b"?", "text/plain")


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: with 8 download workers connecting at once, a connection
    # beyond it can wait for a SYN retransmit (~1 s), longer than TIMEOUT, and be counted as a timeout
    request_queue_size = 64
    daemon_threads = True


@pytest.fixture
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = {"lock": threading.Lock(), "hits": Counter()}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, httpd.state["hits"]
    httpd.shutdown()
    httpd.server_close()


DEAD = {
    "img/missing.jpg": "/missing",
    "img/gone.jpg": "/gone",
    "img/slow.jpg": "/slow",
    "img/html.jpg": "/html",
    "img/trunc.jpg": "/truncated",
}


def write_url_list(path: Path, base: str) -> Path:
    lines = ["# DARN url list (test)", ""]
    lines += [f"ok/{i}.jpg\t{base}/ok/{i}.jpg" for i in range(N_OK - 1)]
    lines.append(f"{base}/ok/{N_OK - 1}.jpg   ok/{N_OK - 1}.jpg")  # url first, spaces
    lines += [f"{rel} {base}{route}" for rel, route in DEAD.items()]
    lines.append(f"img/flaky.jpg {base}/flaky")
    lines.append(f"img/flaky.jpg {base}/flaky")  # a repeated line: kept once
    path.write_text("\n".join(lines) + "\n")
    return path


def run(argv, capsys):
    rc = pdarn.main([str(a) for a in argv] + ["--no-progress"])
    out, err = capsys.readouterr()
    return rc, out, err


def net_args(urls, out, retries=2):
    return [urls, "--out", out, "--timeout", TIMEOUT, "--retries", retries, "--backoff", 0.01, "--workers", 8]


def read_dead_tsv(out: Path) -> dict[str, dict]:
    with open(out / "dead_urls.tsv", newline="") as fh:
        return {row["path"]: row for row in csv.DictReader(fh, delimiter="\t")}


def no_partial_files(out: Path) -> bool:
    return not [p for p in out.rglob("*") if p.name.endswith((".part", ".tmp"))]


def test_download_retry_dead_report_and_resume(server, tmp_path, capsys):
    base, hits = server
    urls = write_url_list(tmp_path / "darn_url.txt", base)
    out = tmp_path / "DARN"
    rc, stdout, err = run(net_args(urls, out), capsys)
    assert rc == 0, err
    # valid images saved, decodable, under their final names; nothing partial or broken left
    for i in range(N_OK):
        assert (out / f"ok/{i}.jpg").read_bytes() == jpeg_bytes(i)
    assert (out / "img/flaky.jpg").is_file()  # failed once (503), then succeeded on retry
    for rel in DEAD:
        assert not (out / rel).exists()
    assert no_partial_files(out)
    # retries: transient failures retried, permanent ones not
    assert hits["/flaky"] == 2
    assert hits["/slow"] == 3  # timeout, retried twice
    assert hits["/missing"] == 1 and hits["/gone"] == 1 and hits["/html"] == 1
    # the dead-URL report
    dead = read_dead_tsv(out)
    assert set(dead) == set(DEAD)
    assert dead["img/missing.jpg"]["reason"] == "HTTP 404" and dead["img/missing.jpg"]["attempts"] == "1"
    assert dead["img/gone.jpg"]["reason"] == "HTTP 410"
    assert dead["img/slow.jpg"]["reason"] == "timeout" and dead["img/slow.jpg"]["attempts"] == "3"
    assert dead["img/html.jpg"]["reason"].startswith("not an image (text/html")
    assert dead["img/trunc.jpg"]["reason"].startswith("not an image (image/jpeg")
    assert dead["img/missing.jpg"]["url"] == f"{base}/missing"
    report = json.loads((out / "download_report.json").read_text())
    assert report["listed"] == N_OK + 1 + len(DEAD)
    assert (report["downloaded"], report["present_before"], report["dead"]) == (N_OK + 1, 0, len(DEAD))
    assert report["dead_by_reason"] == {"HTTP 404": 1, "HTTP 410": 1, "timeout": 1, "not an image": 2}
    assert f"downloaded now {N_OK + 1}, dead {len(DEAD)}" in stdout and "dead: timeout: 1" in stdout
    assert "repeated line(s)" in stdout

    # a rerun fetches nothing that is already there (dead URLs are tried again)
    before = Counter(hits)
    rc, stdout, _ = run(net_args(urls, out, retries=0), capsys)
    assert rc == 0
    assert all(hits[f"/ok/{i}.jpg"] == before[f"/ok/{i}.jpg"] for i in range(N_OK))
    assert hits["/flaky"] == before["/flaky"]
    assert hits["/missing"] == before["/missing"] + 1
    report = json.loads((out / "download_report.json").read_text())
    assert (report["downloaded"], report["present_before"]) == (0, N_OK + 1)

    # delete one file (and leave a partial file like an interrupted run): only that one is fetched;
    # --skip-dead does not retry the recorded dead URLs
    (out / "ok/3.jpg").unlink()
    (out / "ok" / ".5.jpg.999-1.part").write_bytes(b"partial")
    before = Counter(hits)
    rc, stdout, _ = run(net_args(urls, out) + ["--skip-dead"], capsys)
    assert rc == 0
    assert hits - before == Counter({"/ok/3.jpg": 1})
    assert (out / "ok/3.jpg").read_bytes() == jpeg_bytes(3)
    assert no_partial_files(out) and "removed 1 partial file(s)" in stdout
    report = json.loads((out / "download_report.json").read_text())
    assert (report["downloaded"], report["skipped_dead"], report["dead"]) == (1, len(DEAD), 0)
    assert set(read_dead_tsv(out)) == set(DEAD)  # still listed


def test_verify_existing_refetches_broken_files(server, tmp_path, capsys):
    base, hits = server
    urls = tmp_path / "urls.txt"
    urls.write_text(f"a.jpg {base}/ok/1.jpg\nb.jpg {base}/ok/2.jpg\n")
    out = tmp_path / "DARN"
    (out).mkdir()
    (out / "a.jpg").write_bytes(b"garbage")
    write_jpeg(out / "b.jpg", seed=2)
    rc, _, _ = run(net_args(urls, out) + ["--verify-images"], capsys)
    assert rc == 0
    assert (out / "a.jpg").read_bytes() == jpeg_bytes(1) and hits["/ok/2.jpg"] == 0


def test_url_list_errors(tmp_path, capsys):
    urls = tmp_path / "urls.txt"
    urls.write_text("a.jpg http://127.0.0.1:9/a.jpg\nb.jpg\nc.jpg http://x/c.jpg extra\n../d.jpg http://x/d.jpg\n")
    rc, _, err = run([urls, "--out", tmp_path / "o"], capsys)
    assert rc == 2 and f"{urls}, line 2: expected '<relative path> <http(s) url>'" in err and "'b.jpg'" in err
    problems = pdarn.Problems(skip_bad=True)
    entries = pdarn.read_url_list(urls, problems)
    assert [e.rel for e in entries] == ["a.jpg"]
    assert problems.counts == {"malformed line": 3}
    urls.write_text("a.jpg http://x/1.jpg\na.jpg http://x/2.jpg\n")
    rc, _, err = run([urls, "--out", tmp_path / "o"], capsys)
    assert rc == 2 and "line 2: path a.jpg already listed on line 1 with another url" in err
    rc, _, err = run([tmp_path / "none.txt", "--out", tmp_path / "o"], capsys)
    assert rc == 2 and "URL list not found" in err
    urls.write_bytes(b"a.jpg http://x/1.jpg\n\xe9.jpg http://x/2.jpg\n")  # not UTF-8: named, not replaced
    rc, _, err = run([urls, "--out", tmp_path / "o"], capsys)
    assert rc == 2 and f"{urls}, line 2: not UTF-8 text" in err


@pytest.mark.parametrize("option, value", [("--backoff", "-1"), ("--retries", "-1"), ("--timeout", "0"), ("--workers", "0")])
def test_a_bad_download_option_is_one_line_before_any_download(server, tmp_path, capsys, option, value):
    """A negative --backoff reached time.sleep only at the first retry: a ValueError traceback, and no report."""
    base, _ = server
    urls = write_url_list(tmp_path / "darn_url.txt", base)
    rc, _, err = run(net_args(urls, tmp_path / "out", retries=1) + [f"{option}={value}"], capsys)
    assert rc == 2 and err.startswith("error: --retries must be >= 0") and err.count("\n") == 1
    assert f"{option} {value}" in err and not (tmp_path / "out").exists()


def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    write_darn_splits(tmp_path / "splits" / "DARN")
    urls = tmp_path / "darn_url.txt"
    urls.write_text("ok/0.jpg http://127.0.0.1:9/0.jpg\n")
    for argv in ([urls, "--out", urls], ["--no-download", "--splits", tmp_path / "splits", "--out", urls / "DARN"]):
        rc, _, err = run(argv, capsys)
        assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and "choose another --out" in err


def test_quote_url():
    assert pdarn.quote_url("http://h/a.jpg?x=1") == "http://h/a.jpg?x=1"
    assert pdarn.quote_url("http://h/ä b.jpg") == "http://h/%C3%A4%20b.jpg"


def test_bare_url_lines():
    assert pdarn.url_to_relpath("http://img.example.com/a/b c.jpg?x=1") == "images/img.example.com/a/b_c.jpg_x_1"
    assert pdarn.url_to_relpath("https://h/../../etc/passwd") == "images/h/etc/passwd"


# ------------------------------------------------------------------------------------------ split files
def write_darn_splits(folder: Path) -> None:
    """Split files naming downloaded and dead images (dead ones in the middle, to test renumbering)."""
    folder.mkdir(parents=True)
    train = [f"ok/{i}.jpg" for i in range(6)] + ["img/missing.jpg", "ok/6.jpg"]
    valid = ["ok/7.jpg", "ok/8.jpg", "img/html.jpg", "ok/9.jpg"]
    test = ["ok/10.jpg", "img/slow.jpg", "ok/11.jpg", "img/flaky.jpg"]
    for split, names in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"filenames_{split}.txt").write_text("\n".join(names) + "\n")
    labels = [f"{i} 0 {i % 3} 2 {i % 5} 8 {i % 4}" for i in range(len(train))]
    (folder / "label_train.txt").write_text("\n".join(labels) + "\n")
    (folder / "query_valid.txt").write_text("0 0 1\n2 0 1\n")
    (folder / "candidate_valid.txt").write_text("1 0 1\n3 0 2\n2 2 5\n")
    (folder / "query_test.txt").write_text("0 0 1\n1 2 3\n")
    (folder / "candidate_test.txt").write_text("2 0 1\n3 0 4\n")
    authors_meta = {
        "ATTRIBUTES": list(pdarn.ATTRIBUTES),
        "ATTRIBUTES_VALUES": {a: [f"{a}-{v}" for v in range(n)] for a, n in zip(pdarn.ATTRIBUTES, pdarn.NUM_VALUES)},
    }
    (folder / "meta.json").write_text(json.dumps(authors_meta))


def test_the_authors_meta_json_is_found_above_the_dataset_folder(server, tmp_path, capsys):
    """Their data.zip holds data/meta.json beside data/DARN/: the value names come from it."""
    import zipfile

    base, _ = server
    urls = write_url_list(tmp_path / "darn_url.txt", base)
    write_darn_splits(tmp_path / "splits" / "data" / "DARN")
    (tmp_path / "splits" / "data" / "DARN" / "meta.json").rename(tmp_path / "splits" / "data" / "meta.json")
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((tmp_path / "splits").rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tmp_path / "splits").as_posix())
    out = tmp_path / "DARN"
    rc, _, err = run(net_args(urls, out, retries=1) + ["--splits", archive], capsys)
    assert rc == 0, err
    assert load_split_files(out).meta.value_names[2][54] == "color-54"


def test_splits_exclude_undownloaded_images(server, tmp_path, capsys):
    base, _ = server
    urls = write_url_list(tmp_path / "darn_url.txt", base)
    write_darn_splits(tmp_path / "splits" / "DARN")
    out = tmp_path / "DARN"
    rc, stdout, err = run(net_args(urls, out, retries=1) + ["--splits", tmp_path / "splits"], capsys)
    assert rc == 0, err
    sf = load_split_files(out)
    assert sf.meta.attributes == pdarn.ATTRIBUTES and sf.meta.num_values == (20, 13, 55, 7, 28, 11, 26, 8, 17)
    assert sf.meta.value_names[2][54] == "color-54"  # the authors' value names, matching counts
    assert sf.filenames["train"] == [f"ok/{i}.jpg" for i in range(7)]
    assert sf.filenames["valid"] == ["ok/7.jpg", "ok/8.jpg", "ok/9.jpg"]
    assert sf.filenames["test"] == ["ok/10.jpg", "ok/11.jpg", "img/flaky.jpg"]
    # renumbered: old train id 7 (ok/6.jpg) is now 6 and keeps its labels
    rows = sf.train_labels.tolist()
    assert [6, 0, 7 % 3] in rows and [6, 2, 7 % 5] in rows and not any(r[0] == 7 for r in rows)
    assert sf.queries["valid"].tolist() == [[0, 0, 1]]
    assert sf.candidates["valid"].tolist() == [[1, 0, 1], [2, 0, 2]]
    assert sf.queries["test"].tolist() == [[0, 0, 1]]
    assert sf.candidates["test"].tolist() == [[1, 0, 1], [2, 0, 4]]
    expected = {
        "filenames_train.txt": 1, "filenames_valid.txt": 1, "filenames_test.txt": 1, "label_train.txt": 1,
        "query_valid.txt": 1, "candidate_valid.txt": 1, "query_test.txt": 1, "candidate_test.txt": 0,
    }
    counts = json.loads((out / "counts.json").read_text())
    assert counts["excluded"] == expected
    for name, n in expected.items():
        if n:
            assert f"{name}: {n} line(s) excluded" in stdout
    # --no-download: only the split files, from what is on disk
    (out / "ok/8.jpg").unlink()
    rc, stdout, _ = run(["--out", out, "--no-download", "--splits", tmp_path / "splits"], capsys)
    assert rc == 0 and "filenames_valid.txt: 2 line(s) excluded" in stdout
    assert load_split_files(out).filenames["valid"] == ["ok/7.jpg", "ok/9.jpg"]
