"""The shape buckets Dia's decode step is compiled for, and how a batch picks the smallest one that holds it."""

from __future__ import annotations

from dataclasses import dataclass


class RequestTooLong(ValueError):
    """A request needs more than the largest bucket holds; `dimension` says which ("text", "prompt", ...)."""

    def __init__(self, message: str, dimension: str) -> None:
        super().__init__(message)
        self.dimension = dimension


@dataclass(frozen=True)
class DiaBuckets:
    """The shapes decode steps are compiled for; a request goes into the smallest bucket that holds it.

    - `batch`: requests decoded together (rows are twice this with classifier-free guidance).
    - `text`: encoder tokens, i.e. the voice prompt's transcript plus the text, in bytes (Dia's encoder reads
      bytes; its limit is 1024).
    - `prompt`: decoder prefix, i.e. BOS plus the audio prompt's frames (86 per second; 1 without a prompt).
    - `new_tokens`: decode steps (Dia's codebook delay adds 15 steps and EOS one more to the audio frames).

    A compiled step is keyed by (batch, text, prompt + new_tokens): the prefix is encoded in one eager forward, so
    only the cache length it leaves matters to the step. Fewer buckets compile faster (each is a compile of its own,
    ~40 s cold for Dia-1.6B on an H100 by the spike's warm-up, far less from the on-disk cache); tighter ones waste
    less attention on padding. The defaults make 16 shapes, the 8 with text up to 512 bytes (a 20 s segment plus a
    10 s prompt's transcript) first.
    """

    batch: tuple[int, ...] = (1, 2, 4, 8)
    text: tuple[int, ...] = (512, 1024)
    prompt: tuple[int, ...] = (1, 1024)
    new_tokens: tuple[int, ...] = (2064,)

    def __post_init__(self) -> None:
        for name in ("batch", "text", "prompt", "new_tokens"):
            values = tuple(sorted({int(v) for v in getattr(self, name)}))
            if not values or values[0] < 1:
                raise ValueError(f"bucket sizes for {name} must be positive integers")
            object.__setattr__(self, name, values)

    @classmethod
    def coerce(cls, value: DiaBuckets | dict | None, *, max_batch: int, max_new_tokens: int) -> DiaBuckets:
        """Buckets from settings; the defaults follow `max_batch` and the engine's `max_new_tokens`."""
        if isinstance(value, cls):
            return value
        given = dict(value or {})
        given.setdefault("batch", (*(b for b in (1, 2, 4, 8, 16, 32, 64) if b < max_batch), max_batch))
        given.setdefault("new_tokens", (max_new_tokens,))
        return cls(**{k: tuple(v) for k, v in given.items()})

    @staticmethod
    def _fit(sizes: tuple[int, ...], need: int, dimension: str, what: str) -> int:
        for size in sizes:
            if size >= need:
                return size
        raise RequestTooLong(f"{what} needs {need}, more than the largest bucket ({sizes[-1]})", dimension)

    def pick(self, *, batch: int, text: int, prompt: int, new_tokens: int) -> BucketKey:
        """The smallest bucket for a batch whose longest text, prompt and step budget are given."""
        return BucketKey(
            batch=self._fit(self.batch, batch, "batch", "the batch"),
            text=self._fit(self.text, text, "text", "the text with the voice prompt's transcript"),
            cache=self._fit(self.prompt, prompt, "prompt", "the voice prompt (frames + BOS)")
            + self._fit(self.new_tokens, new_tokens, "new_tokens", "the generation length"),
        )

    def check(self, *, text: int, prompt: int, new_tokens: int) -> None:
        """Raise RequestTooLong if one request alone fits no bucket."""
        self.pick(batch=1, text=text, prompt=prompt, new_tokens=new_tokens)

    def shapes(self) -> list[BucketKey]:
        """Every distinct compiled shape, the likeliest first: small batches, short text, short caches."""
        caches = sorted({p + n for p in self.prompt for n in self.new_tokens})
        return [BucketKey(batch=b, text=t, cache=c) for t in self.text for c in caches for b in self.batch]

    def as_dict(self) -> dict:
        return {
            "batch": list(self.batch),
            "text": list(self.text),
            "prompt": list(self.prompt),
            "new_tokens": list(self.new_tokens),
        }


@dataclass(frozen=True, order=True)
class BucketKey:
    batch: int
    text: int
    cache: int

    def label(self) -> str:
        return f"b{self.batch}/t{self.text}/c{self.cache}"
