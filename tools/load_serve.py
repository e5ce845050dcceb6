#!/usr/bin/env python3
"""Load check of `emotic serve` on loopback: throughput and latency percentiles at several
concurrencies, the statuses seen, and the server's RSS after warm-up and after each level;
beside them, the CLI's own per-image time on the same image (`emotic predict`'s speed_ms).

It starts the server itself (`--port 0`, reading the printed URL) and stops it with SIGTERM.
Standard library only. Example:

    python3 tools/load_serve.py --emotic target/release/emotic --weights yolov5n.pt \
        --emotion-model crates/emotic/tests/data/emotic_small --image bus.jpg \
        --requests 300 --concurrency 1 4 16 --workers 1

Exit status 1 when a status other than 200 and 503 was seen, a request took longer than the
server's --timeout, or RSS after the run exceeds RSS after warm-up by more than --rss-margin.
"""

import argparse
import concurrent.futures
import glob
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def request(host, port, body, timeout):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request("POST", "/v1/predict", body=body, headers={"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        conn.close()


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def cli_per_image_ms(args):
    """The CLI's per-image time: mean of the stage times `emotic predict` records."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "images")
        os.mkdir(folder)
        for i in range(20):
            shutil.copy(args.image, os.path.join(folder, f"copy{i:02d}.jpg"))
        cmd = [args.emotic, "predict", "--weights", args.weights, "--source", folder,
               "--project", tmp, "--nosave"]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.emotion_model:
            cmd += ["--emotion-model", args.emotion_model]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (lines,) = glob.glob(os.path.join(tmp, "exp*", "predictions.jsonl"))
        totals = []
        with open(lines) as f:
            for line in f:
                s = json.loads(line)["speed_ms"]
                totals.append(s["preprocess_ms"] + s["inference_ms"] + s["nms_ms"] + s["emotion_ms"])
        # The first image warms the sessions up; the service's numbers are after warm-up too.
        return statistics.mean(totals[1:])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emotic", required=True, help="the emotic binary")
    p.add_argument("--weights", required=True)
    p.add_argument("--emotion-model")
    p.add_argument("--image", required=True)
    p.add_argument("--requests", type=int, default=300, help="requests per concurrency level")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--workers", type=int)
    p.add_argument("--threads", type=int, help="ONNX Runtime threads per worker")
    p.add_argument("--queue", type=int, default=16)
    p.add_argument("--timeout", type=float, default=30.0, help="the server's --timeout, seconds")
    p.add_argument("--rss-margin", type=float, default=0.10, help="allowed RSS growth after warm-up")
    args = p.parse_args()

    cmd = [args.emotic, "serve", "--port", "0", "--weights", args.weights,
           "--queue", str(args.queue), "--timeout", str(args.timeout)]
    if args.emotion_model:
        cmd += ["--emotion-model", args.emotion_model]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    failed = False
    try:
        line = server.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        port = int(port)
        while True:
            try:
                conn = http.client.HTTPConnection(host, port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                sys.exit("the server exited")
            time.sleep(0.2)
        body = open(args.image, "rb").read()
        rss_start = rss_mib(server.pid)
        for _ in range(10):
            request(host, port, body, args.timeout + 5)
        rss_warm = rss_mib(server.pid)
        print(f"server: {' '.join(cmd[1:])}")
        print(f"RSS: {rss_start:.0f} MiB loaded, {rss_warm:.0f} MiB after warm-up")
        print(f"{'conc':>4} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses  RSS MiB")
        for conc in args.concurrency:
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(conc) as pool:
                results = list(pool.map(lambda _: request(host, port, body, args.timeout + 5), range(args.requests)))
            wall = time.perf_counter() - start
            statuses = {}
            for status, _ in results:
                statuses[status] = statuses.get(status, 0) + 1
            ok = sorted(t * 1000 for s, t in results if s == 200)
            slowest = max(t for _, t in results)
            rss = rss_mib(server.pid)
            print(f"{conc:>4} {len(ok) / wall:>7.1f} {percentile(ok, 50):>8.1f} {percentile(ok, 95):>8.1f} "
                  f"{percentile(ok, 99):>8.1f} {slowest * 1000:>8.1f}  {json.dumps(statuses)}  {rss:.0f}")
            if set(statuses) - {200, 503}:
                print(f"  FAIL: statuses other than 200 and 503: {statuses}")
                failed = True
            if slowest > args.timeout:
                print(f"  FAIL: a request took {slowest:.1f} s, more than the timeout")
                failed = True
        rss_end = rss_mib(server.pid)
        growth = (rss_end - rss_warm) / rss_warm
        print(f"RSS after the run: {rss_end:.0f} MiB ({growth:+.1%} from warm-up; margin {args.rss_margin:.0%})")
        if growth > args.rss_margin:
            print("  FAIL: RSS grew beyond the margin")
            failed = True
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait()
        print(f"server exit status after SIGTERM: {code}")
        failed |= code != 0
    print(f"CLI per-image time (emotic predict, same image, mean of stage times): {cli_per_image_ms(args):.1f} ms")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
