"""Dia's serving engine on a tiny random model: the decode loop against transformers' generate, batching, the
out-of-memory shrink path, compile fallback, streaming and the batch scheduler."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from speech.audio import stitch
from speech.batching import BatchScheduler, Cancelled, SchedulerClosed
from speech.engines.base import PcmChunk, SynthesisRequest, VoicePrompt
from speech.engines.dia import (
    SAMPLE_RATE,
    BatchResult,
    DiaEngine,
    GenerationSettings,
    GpuOutOfMemory,
    InvalidVoicePrompt,
    TextTooLong,
    VoicePromptTooLong,
)
from speech.engines.dia_buckets import BucketKey, DiaBuckets, RequestTooLong
from speech.engines.dia_testing import build_tiny_dia

STEPS = 48  # decode steps per generation: up to 32 frames (Dia's delay pattern takes 16 more)
BUCKETS = {"batch": (1, 2, 4), "text": (64, 128), "prompt": (1, 128), "new_tokens": (STEPS,)}
# Streamed pieces join into the whole-utterance codec decode to float rounding: the codec's receptive field fits in
# the 12 frames of context each piece is decoded with. The bound checked here:
STREAM_TOLERANCE = 1e-5


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Two shared cores: several OpenMP threads fighting other processes make a tiny model 50x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def folders(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")
    # eos_boost: generations end at varied lengths (random weights alone always run to the step budget)
    return build_tiny_dia(tmp_path_factory.mktemp("dia-serving"), eos_boost=2.5)


def make_engine(folders, engine_class=DiaEngine, *, greedy=False, **kwargs) -> DiaEngine:
    model_dir, codec_dir = folders
    options = {"buckets": BUCKETS, "max_batch": 4, "stream": {"first_frames": 4, "frames": 8}} | kwargs
    engine = engine_class(
        model_id=str(model_dir),
        codec_id=str(codec_dir),
        generation=GenerationSettings(max_new_tokens=STEPS, chunk_seconds=4, do_sample=not greedy),
        **options,
    )
    engine.load()
    return engine


@pytest.fixture(scope="module")
def engine(folders):
    return make_engine(folders)


@pytest.fixture(scope="module")
def greedy(folders):
    return make_engine(folders, greedy=True)


@pytest.fixture(scope="module")
def plain_engine(tmp_path_factory):
    """A model whose generations always run to the step budget: long enough to stream in several pieces."""
    return make_engine(build_tiny_dia(tmp_path_factory.mktemp("dia-plain")))


def voice(seconds: float, seed: int) -> VoicePrompt:
    audio = np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1
    return VoicePrompt(audio=audio.astype(np.float32), transcript=f"[S1] Voice number {seed}.")


def mixed_requests() -> list[SynthesisRequest]:
    """Different texts, lengths, prompts and seeds, so that no two items could pass for each other."""
    return [
        SynthesisRequest(text="[S1] Hello there.", voice="dia", seed=11),
        SynthesisRequest(
            text="[S1] A somewhat longer sentence, with a pause.", voice="dia", seed=12, prompt=voice(1.0, 1)
        ),
        SynthesisRequest(text="[S2] Short!", voice="dia", seed=13, prompt=voice(0.4, 2)),
        SynthesisRequest(text="[S1] Did you hear that? (laughs) [S2] I did.", voice="dia", seed=14),
        SynthesisRequest(text="[S1] The fifth request spills into a second batch.", voice="dia", seed=15),
    ]


def codes_of(results: list[BatchResult]) -> list[np.ndarray]:
    assert all(r.ok for r in results), [r.error for r in results]
    return [r.codes for r in results]


# ----------------------------------------------------------------------------------------------------------
# Buckets
# ----------------------------------------------------------------------------------------------------------
def test_the_smallest_bucket_that_holds_the_batch_is_picked():
    buckets = DiaBuckets(batch=(1, 2, 4, 8), text=(256, 1024), prompt=(1, 512, 1024), new_tokens=(2064,))

    assert buckets.pick(batch=3, text=200, prompt=1, new_tokens=2064) == BucketKey(batch=4, text=256, cache=2065)
    assert buckets.pick(batch=1, text=257, prompt=431, new_tokens=100) == BucketKey(batch=1, text=1024, cache=2576)
    assert buckets.pick(batch=8, text=1024, prompt=1024, new_tokens=2064).cache == 3088


@pytest.mark.parametrize(
    ("need", "dimension"),
    [({"text": 1025}, "text"), ({"prompt": 1025}, "prompt"), ({"new_tokens": 3000}, "new_tokens")],
)
def test_a_request_beyond_the_largest_bucket_is_refused_by_dimension(need, dimension):
    buckets = DiaBuckets(batch=(1,), text=(1024,), prompt=(1, 1024), new_tokens=(2064,))

    with pytest.raises(RequestTooLong) as raised:
        buckets.check(**({"text": 10, "prompt": 1, "new_tokens": 10} | need))

    assert raised.value.dimension == dimension


def test_buckets_default_to_the_batch_size_and_step_budget_and_list_the_likeliest_shapes_first():
    buckets = DiaBuckets.coerce({"text": (128, 64)}, max_batch=6, max_new_tokens=300)

    assert buckets.batch == (1, 2, 4, 6)
    assert buckets.text == (64, 128)
    assert buckets.new_tokens == (300,)
    shapes = buckets.shapes()
    assert shapes[0] == BucketKey(batch=1, text=64, cache=301)
    assert len(shapes) == len(set(shapes)) == 4 * 2 * 2  # batch x text x (prompt + new tokens)


# ----------------------------------------------------------------------------------------------------------
# The decode loop against transformers' generate
# ----------------------------------------------------------------------------------------------------------
def reference(engine: DiaEngine, request: SynthesisRequest) -> tuple[np.ndarray, np.ndarray]:
    """What today's generate path makes of one request: its generated tokens and its undelayed codes."""
    processor, model, settings = engine._processor, engine._model, engine.generation
    kwargs = {"text": [request.text], "padding": True, "return_tensors": "pt"}
    if request.prompt is not None:
        kwargs |= {"text": [f"{request.prompt.transcript} {request.text}"], "audio": [request.prompt.audio]}
    inputs = processor(**kwargs)
    torch.manual_seed(request.seed)
    out = model.generate(
        **inputs,
        max_new_tokens=STEPS,
        guidance_scale=settings.guidance_scale,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        do_sample=settings.do_sample,
    )
    prompt_len = processor.get_audio_prompt_len(inputs["decoder_attention_mask"])
    generated = out[0, prompt_len:].numpy()
    # transformers' own undelaying, as batch_decode does it, cut where channel 0 ends
    delay = model.config.delay_pattern
    eos = model.config.decoder_config.eos_token_id
    ends = np.nonzero(generated[:, 0] == eos)[0]
    frames = int(ends[0]) if ends.size else max(0, generated.shape[0] - max(delay))
    codes = np.stack([generated[d : d + frames, c] for c, d in enumerate(delay)], axis=1)
    return generated, codes


@pytest.mark.parametrize("mode", ["greedy", "sampled"])
def test_a_batch_of_one_decodes_the_tokens_generate_makes(engine, greedy, mode):
    served = greedy if mode == "greedy" else engine
    lengths = set()
    for request in mixed_requests():
        tokens, codes = reference(served, request)

        result = served.synthesize_batch([request])[0]

        assert result.ok
        assert result.steps == tokens.shape[0]
        assert np.array_equal(result.codes, codes)
        lengths.add(result.steps)
    assert len(lengths) > 1  # some generations ended early, on their own EOS


def test_the_codes_decode_to_the_audio_generate_and_batch_decode_make(greedy):
    request = mixed_requests()[1]
    processor = greedy._processor
    inputs = processor(
        text=[f"{request.prompt.transcript} {request.text}"], audio=[request.prompt.audio], return_tensors="pt"
    )
    out = greedy._model.generate(**inputs, max_new_tokens=STEPS, guidance_scale=3.0, top_k=45, do_sample=False)
    expected = processor.batch_decode(
        out, audio_prompt_len=processor.get_audio_prompt_len(inputs["decoder_attention_mask"])
    )

    result = greedy.synthesize_batch([request])[0]

    assert np.allclose(result.audio(), np.clip(expected[0].numpy(), -1, 1), atol=STREAM_TOLERANCE)


# ----------------------------------------------------------------------------------------------------------
# Batching
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["greedy", "sampled"])
def test_every_item_of_a_batch_gets_exactly_what_it_gets_alone(engine, greedy, mode):
    served = greedy if mode == "greedy" else engine
    requests = mixed_requests()

    together = served.synthesize_batch(requests)  # 4 in one batch, the fifth in a second
    alone = [served.synthesize_batch([request])[0] for request in requests]

    for batched, single in zip(together, alone, strict=True):
        assert batched.ok
        assert single.ok
        assert np.array_equal(batched.codes, single.codes)
        assert np.array_equal(batched.audio(), single.audio())
    assert len({c.tobytes() for c in codes_of(together)}) == len(requests)  # nobody got another's audio


def test_the_same_request_in_different_company_and_order_is_unchanged(engine):
    requests = mixed_requests()

    first = engine.synthesize_batch(requests[:4])
    shuffled = engine.synthesize_batch([requests[3], requests[1], requests[0], requests[2]])

    assert np.array_equal(first[0].codes, shuffled[2].codes)
    assert np.array_equal(first[1].codes, shuffled[1].codes)
    assert np.array_equal(first[3].codes, shuffled[0].codes)


def test_one_bad_item_fails_alone(engine):
    good = mixed_requests()[:2]
    requests = [
        good[0],
        SynthesisRequest(text="[S1] Bad prompt.", voice="dia", seed=1, prompt=VoicePrompt(np.zeros((2, 900)), "x")),
        SynthesisRequest(text="[S1] " + "far too long " * 20, voice="dia", seed=2),
        SynthesisRequest(text="[S1] Prompt too long.", voice="dia", seed=3, prompt=voice(2.0, 3)),
        SynthesisRequest(text="   ", voice="dia", seed=4),
        good[1],
    ]

    results = engine.synthesize_batch(requests)

    assert [type(r.error) for r in results[1:4]] == [InvalidVoicePrompt, TextTooLong, VoicePromptTooLong]
    assert results[4].error.code == "engine_error"
    alone = [engine.synthesize_batch([request])[0] for request in good]
    assert np.array_equal(results[0].codes, alone[0].codes)
    assert np.array_equal(results[5].codes, alone[1].codes)


class FakeOutOfMemory(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError (no GPU here): the hardware boundary of these tests."""


class SmallGpuEngine(DiaEngine):
    """A GPU that fits at most `fits` requests per batch, and optionally runs dry while streaming."""

    fits = 4
    fail_after_windows: int | None = None

    def _oom_errors(self):
        return (FakeOutOfMemory,)

    def _decode_group(self, group, calls):
        self.seen_batches.append(len(group))
        if len(group) > self.fits:
            raise FakeOutOfMemory("CUDA out of memory (simulated)")
        return super()._decode_group(group, calls)

    def _decode_window(self, frames, start, end):
        if self.fail_after_windows is not None:
            if self.fail_after_windows == 0:
                self.fail_after_windows = None
                raise FakeOutOfMemory("CUDA out of memory in the codec (simulated)")
            self.fail_after_windows -= 1
        return super()._decode_window(frames, start, end)


def test_out_of_memory_halves_the_batch_until_it_fits(folders, engine):
    small = make_engine(folders, SmallGpuEngine)
    small.seen_batches, small.fits = [], 1
    requests = mixed_requests()[:4]

    results = small.synthesize_batch(requests)

    assert small.seen_batches == [4, 2, 1, 1, 2, 1, 1]
    for result, expected in zip(results, engine.synthesize_batch(requests), strict=True):
        assert np.array_equal(result.codes, expected.codes)
    assert small.describe()["counters"]["oom_shrinks"] == 3


def test_out_of_memory_alone_or_mid_stream_is_reported_as_gpu_out_of_memory(folders):
    small = make_engine(folders, SmallGpuEngine)
    small.seen_batches, small.fits = [], 0
    alone = small.synthesize_batch(mixed_requests()[:1])
    assert isinstance(alone[0].error, GpuOutOfMemory)
    assert isinstance(alone[0].error.__cause__, FakeOutOfMemory)

    # The codec runs dry after the first pieces went out: those requests cannot be retried; the others are.
    small.seen_batches, small.fits, small.fail_after_windows = [], 4, 2
    streamed: list[int] = []
    results = small.synthesize_batch(mixed_requests()[:4], on_piece=lambda index, piece: streamed.append(index))

    failed = [i for i, r in enumerate(results) if r.error is not None]
    assert failed
    assert set(failed) <= set(streamed[:2])
    assert all(isinstance(results[i].error, GpuOutOfMemory) for i in failed)
    assert all(results[i].ok for i in range(4) if i not in failed)


# ----------------------------------------------------------------------------------------------------------
# Compilation
# ----------------------------------------------------------------------------------------------------------
def test_a_failed_compilation_falls_back_to_eager_and_says_so(folders, engine):
    broken = make_engine(folders, compile="on", simulate_compile_failure=True)
    assert broken.describe()["compile_mode"] == "compiled"

    report = broken.warm_up(budget_s=30)
    results = broken.synthesize_batch(mixed_requests()[:2])

    health = broken.describe()
    assert report["compile_mode"] == health["compile_mode"] == "eager"
    assert "forced to fail" in health["fallback_reason"]
    assert health["warmed"] == []
    for result, expected in zip(results, engine.synthesize_batch(mixed_requests()[:2]), strict=True):
        assert np.array_equal(result.codes, expected.codes)


def test_a_compilation_failing_mid_batch_finishes_the_batch_eagerly(folders, engine):
    broken = make_engine(folders, compile="on", simulate_compile_failure=True)

    results = broken.synthesize_batch(mixed_requests()[:2])  # no warm-up: the first step tries to compile

    assert broken.describe()["compile_mode"] == "eager"
    for result, expected in zip(
        codes_of(results), codes_of(engine.synthesize_batch(mixed_requests()[:2])), strict=True
    ):
        assert np.array_equal(result, expected)


def test_the_decode_step_compiles_as_one_graph_and_decodes_the_same_tokens(folders, engine):
    # aot_eager traces the step with dynamo (fullgraph: any graph break fails) without Inductor's C++ build.
    compiled = make_engine(
        folders, compile="on", compile_backend="aot_eager", buckets=BUCKETS | {"batch": (2,), "text": (128,)}
    )

    report = compiled.warm_up(budget_s=120)
    results = compiled.synthesize_batch(mixed_requests()[:2])

    assert report["compile_mode"] == "compiled", report
    assert [w["bucket"] for w in report["warmed"]] == ["b2/t128/c49", "b2/t128/c176"]
    assert compiled.describe()["compile_mode"] == "compiled"
    for result, expected in zip(results, engine.synthesize_batch(mixed_requests()[:2]), strict=True):
        assert np.array_equal(result.codes, expected.codes)


def test_without_lazy_compilation_a_bucket_warm_up_did_not_reach_decodes_eagerly(folders, engine):
    # (a compiler that would fail shows that nothing was compiled, and that no fallback was needed)
    strict = make_engine(folders, compile="on", simulate_compile_failure=True, lazy_compile=False)

    results = strict.synthesize_batch(mixed_requests()[:2])

    health = strict.describe()
    assert (health["compile_mode"], health["fallback_reason"], health["warmed"]) == ("compiled", None, [])
    for result, expected in zip(
        codes_of(results), codes_of(engine.synthesize_batch(mixed_requests()[:2])), strict=True
    ):
        assert np.array_equal(result, expected)


def test_compile_auto_is_eager_on_the_cpu(engine):
    assert engine.describe()["compile_mode"] == "eager"
    assert engine.describe()["fallback_reason"] is None
    assert engine.warm_up(budget_s=1)["warmed"] == []


# ----------------------------------------------------------------------------------------------------------
# Streaming
# ----------------------------------------------------------------------------------------------------------
def test_pieces_stream_before_the_generation_ends_and_join_into_the_whole_decode(plain_engine):
    engine = plain_engine
    request = SynthesisRequest(text="[S1] A long enough sentence to stream in pieces.", voice="dia", seed=12)
    first_piece_at_step: list[int] = []

    def on_piece(index: int, piece: PcmChunk) -> None:
        if not first_piece_at_step:
            first_piece_at_step.append(int(engine._loop._buffers.tensors["step"][0]))

    result = engine.synthesize_batch([request], on_piece=on_piece)[0]
    whole = engine.decode_codes(result.codes)

    assert len(result.pieces) > 2
    assert first_piece_at_step[0] < result.steps
    assert [p.continues for p in result.pieces] == [False] + [True] * (len(result.pieces) - 1)
    streamed = result.audio()
    assert streamed.size == whole.size == result.codes.shape[0] * 512
    assert np.abs(streamed - whole).max() <= STREAM_TOLERANCE
    stitched, rate = stitch(result.pieces, crossfade_seconds=0.015)
    assert rate == SAMPLE_RATE
    assert np.array_equal(stitched, streamed)  # continuing pieces are joined, not crossfaded


def test_without_streaming_each_generation_is_one_piece(folders, engine):
    plain = make_engine(folders, stream={"enabled": False})
    request = mixed_requests()[3]

    result = plain.synthesize_batch([request])[0]

    assert len(result.pieces) == 1
    assert np.array_equal(result.audio(), plain.decode_codes(result.codes))
    assert np.array_equal(result.codes, engine.synthesize_batch([request])[0].codes)


def test_a_long_text_decodes_its_segments_together_in_one_voice(engine):
    text = " ".join(f"This is sentence number {n} of a longer text." for n in range(1, 7))
    segments = engine.segments(text)

    pieces = list(engine.synthesize(SynthesisRequest(text=text, voice="dia", seed=5)))
    one_by_one = [engine.synthesize_batch([SynthesisRequest(text=s, voice="dia", seed=5)])[0] for s in segments]

    assert len(segments) > 2
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), np.concatenate([r.audio() for r in one_by_one]))
    assert sum(not p.continues for p in pieces) == len(segments)  # each segment starts a new generation


# ----------------------------------------------------------------------------------------------------------
# The batch scheduler
# ----------------------------------------------------------------------------------------------------------
class RecordingEngine:
    """A plain-Python batch engine: each request's audio is derived from its text, and batches are recorded."""

    max_batch = 4

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.batches: list[list[str]] = []
        self.hold = hold

    def synthesize_batch(self, requests, on_piece=None, *, on_final=None, is_cancelled=None):
        if self.hold is not None:
            self.hold.wait(10)
        self.batches.append([r.text for r in requests])
        results = []
        for index, request in enumerate(requests):
            if request.text == "boom":
                results.append(BatchResult(error=TextTooLong("boom")))
                continue
            samples = np.full(8, len(request.text), dtype=np.float32)
            piece = PcmChunk(samples=samples, sample_rate=SAMPLE_RATE)
            if on_piece is not None:
                on_piece(index, piece)
            results.append(BatchResult(pieces=[piece]))
        return results


def run_threads(scheduler, jobs: list[tuple[str, str]]) -> dict:
    results: dict = {}

    def worker(text: str, account: str) -> None:
        try:
            results[text] = scheduler.submit(SynthesisRequest(text=text, voice="dia"), account)
        except Exception as exc:
            results[text] = exc

    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_requests_from_many_threads_form_batches_and_each_thread_gets_its_own_result():
    engine = RecordingEngine()
    scheduler = BatchScheduler(engine, window_ms=200)
    texts = [f"request {'x' * n}" for n in range(8)] + ["boom"]

    results = run_threads(scheduler, [(text, "acct") for text in texts])
    scheduler.shutdown()

    for text in texts[:-1]:
        assert [p.samples[0] for p in results[text]] == [len(text)]
    assert isinstance(results["boom"], TextTooLong)
    assert max(len(batch) for batch in engine.batches) == 4
    assert len(engine.batches) == 3
    stats = scheduler.stats()
    assert (stats["requests"], stats["batches"], stats["failed"]) == (9, 3, 1)
    assert stats["batch_size_mean"] == 3.0
    assert stats["occupancy"] == 0.75
    assert stats["queue_wait_p95_s"] >= stats["queue_wait_p50_s"] >= 0


def test_one_account_cannot_take_every_slot_while_another_waits():
    hold = threading.Event()
    engine = RecordingEngine(hold=hold)
    scheduler = BatchScheduler(engine, window_ms=1, account_share=0.5)
    blocker = scheduler.enqueue(SynthesisRequest(text="first", voice="dia"), "busy")
    time.sleep(0.1)  # the scheduler takes `first` and waits on the engine: what follows queues up
    busy = [scheduler.enqueue(SynthesisRequest(text=f"busy {n}", voice="dia"), "busy") for n in range(8)]
    quiet = [scheduler.enqueue(SynthesisRequest(text=f"quiet {n}", voice="dia"), "quiet") for n in range(2)]

    hold.set()
    for ticket in [blocker, *busy, *quiet]:
        ticket.result(timeout=10)
    scheduler.shutdown()

    second = engine.batches[1]
    assert sorted(second) == ["busy 0", "busy 1", "quiet 0", "quiet 1"]
    assert engine.batches[2] == ["busy 2", "busy 3", "busy 4", "busy 5"]  # alone again: it may fill the batch


def test_an_account_share_of_one_is_first_come_first_served():
    hold = threading.Event()
    engine = RecordingEngine(hold=hold)
    scheduler = BatchScheduler(engine, window_ms=1, account_share=1.0)
    blocker = scheduler.enqueue(SynthesisRequest(text="first", voice="dia"), "busy")
    time.sleep(0.1)
    tickets = [scheduler.enqueue(SynthesisRequest(text=f"busy {n}", voice="dia"), "busy") for n in range(5)]
    tickets += [scheduler.enqueue(SynthesisRequest(text="quiet 0", voice="dia"), "quiet")]

    hold.set()
    for ticket in [blocker, *tickets]:
        ticket.result(timeout=10)
    scheduler.shutdown()

    assert engine.batches[1:] == [["busy 0", "busy 1", "busy 2", "busy 3"], ["busy 4", "quiet 0"]]
    assert [t.batch for t in tickets] == [2, 2, 2, 2, 3, 3]
    assert [t.batch_size for t in tickets] == [4, 4, 4, 4, 2, 2]


def test_cancelled_and_shut_down_requests_fail_cleanly():
    hold = threading.Event()
    engine = RecordingEngine(hold=hold)
    scheduler = BatchScheduler(engine, window_ms=1)
    running = scheduler.enqueue(SynthesisRequest(text="running", voice="dia"), "a")
    time.sleep(0.1)
    cancelled = scheduler.enqueue(SynthesisRequest(text="cancelled", voice="dia"), "a")
    cancelled.cancel()
    queued = scheduler.enqueue(SynthesisRequest(text="queued", voice="dia"), "b")

    scheduler.shutdown(wait=False)
    hold.set()

    assert running.result(timeout=10)[0].samples[0] == len("running")
    with pytest.raises((SchedulerClosed, Cancelled)):
        cancelled.result(timeout=10)
    with pytest.raises(SchedulerClosed):
        queued.result(timeout=10)
    with pytest.raises(SchedulerClosed):
        scheduler.enqueue(SynthesisRequest(text="late", voice="dia"), "a")


def test_the_scheduler_batches_real_dia_requests_and_streams_each_its_own_pieces(engine):
    requests = mixed_requests()[:4]
    expected = [r.codes for r in engine.synthesize_batch(requests)]
    scheduler = BatchScheduler(engine, window_ms=300)
    got: dict[int, tuple[list[PcmChunk], list[PcmChunk]]] = {}

    def worker(n: int) -> None:
        streamed: list[PcmChunk] = []
        pieces = scheduler.submit(requests[n], f"account {n % 2}", on_piece=streamed.append)
        got[n] = (streamed, pieces)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scheduler.shutdown()  # (waits for the batch's bookkeeping, which ends after the last request is answered)
    stats = scheduler.stats()

    assert (stats["batches"], stats["batch_size_mean"]) == (1, 4)
    for n in range(4):
        streamed, pieces = got[n]
        assert [p.samples.size for p in streamed] == [p.samples.size for p in pieces]
        audio = np.concatenate([p.samples for p in pieces])
        assert np.abs(audio - engine.decode_codes(expected[n])).max() <= STREAM_TOLERANCE


def test_a_jobs_segments_go_through_the_scheduler_as_separate_items(engine):
    segments = engine.segments(" ".join(f"Sentence {n} is here to be read aloud." for n in range(8)))
    requests = [SynthesisRequest(text=s, voice="dia", seed=9) for s in segments]
    scheduler = BatchScheduler(engine, window_ms=50)

    streamed = list(scheduler.stream(requests, "acct"))
    scheduler.shutdown()

    assert [index for index, _ in streamed] == sorted(index for index, _ in streamed)
    assert {index for index, _ in streamed} == set(range(len(segments)))
    direct = engine.synthesize_batch(requests)
    assert np.array_equal(np.concatenate([p.samples for _, p in streamed]), np.concatenate([r.audio() for r in direct]))


class BrokenEngine(DiaEngine):
    def _decode_group(self, group, calls):
        raise RuntimeError("CUDA error: an illegal memory access was encountered (simulated)")


def test_an_unexpected_failure_fails_every_waiting_request_and_never_reports_half_a_success(folders):
    broken = make_engine(folders, BrokenEngine)
    finals: list[BatchResult] = []

    results = broken.synthesize_batch(mixed_requests()[:3], on_final=lambda index, result: finals.append(result))

    assert len(finals) == 3
    assert all(r.error is not None and "illegal memory access" in str(r.error) for r in results)
    with pytest.raises(Exception, match="illegal memory access"):
        list(broken.synthesize(SynthesisRequest(text="[S1] Hello.", voice="dia", seed=1)))


def test_closing_a_stream_early_abandons_the_rest_and_the_engine_carries_on(plain_engine):
    text = " ".join(f"This is sentence number {n} of a longer text." for n in range(1, 7))

    stream = plain_engine.synthesize(SynthesisRequest(text=text, voice="dia", seed=5))
    first = next(stream)
    stream.close()
    after = plain_engine.synthesize_batch(mixed_requests()[:1])

    assert first.samples.size > 0
    assert after[0].ok
