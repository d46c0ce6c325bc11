"""The sender's side of a session stream (docs/wire.md): raw accelerometer samples cut into ``SessionSamplesV1``
chunks for ``<root>/v1/<wearer>/<device>/session`` while an exercise session runs. Pure: samples in, messages out.

Each chunk holds at most ``CHUNK_SAMPLES`` samples and spans at most ``CHUNK_MS`` (well inside the contract's
bounds), values in milli-g clipped to a +-16 g accelerometer's range. A stream stops at
``MAX_SESSION_STREAM_SAMPLES``: what is past it is not sent and is counted (``SessionStreamer.dropped``).
A live sender ``add``s samples as they come (full chunks go out, the rest waits) and ``close``s the stream when the
session ends: the final chunk (``last``) carries what waited and the sender's time then, so the alert service
concludes the session once the whole stream is in, and sees a sensor lost before the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingest.features import FloatArray, IntArray
from ingest.wire import MAX_ACC_MG, MAX_SESSION_SAMPLES, MAX_SESSION_STREAM_SAMPLES, SessionSamplesV1

CHUNK_MS = 5_000  # a chunk every 5 s: the alert service sees a lost sensor within seconds
CHUNK_SAMPLES = MAX_SESSION_SAMPLES


@dataclass
class SessionStreamer:
    """One device's stream for one session: ``chunks`` turns each batch of samples into messages in order."""

    wearer: str
    device: str
    session: str
    limit: int = MAX_SESSION_STREAM_SAMPLES
    seq: int = 0
    sent: int = 0
    dropped: int = 0
    _last_ms: int | None = None
    _waiting_t: list[int] = field(default_factory=list)
    _waiting_acc: list[tuple[float, float, float]] = field(default_factory=list)

    def add(
        self, t_ms: IntArray | list[int], acc_g: FloatArray | list[tuple[float, float, float]]
    ) -> list[SessionSamplesV1]:
        """Samples as they arrive -> the full chunks (``CHUNK_MS`` of samples) they complete; the rest waits."""
        self._waiting_t += [int(v) for v in np.asarray(t_ms, dtype=np.int64).reshape(-1)]
        rows = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3).tolist()
        self._waiting_acc += [(x, y, z) for x, y, z in rows]
        out: list[SessionSamplesV1] = []
        while self._waiting_t and self._waiting_t[-1] - self._waiting_t[0] >= CHUNK_MS:
            cut = next(i for i, t in enumerate(self._waiting_t) if t - self._waiting_t[0] >= CHUNK_MS)
            t = np.asarray(self._waiting_t[:cut], dtype=np.int64)
            acc = np.asarray(self._waiting_acc[:cut], dtype=np.float64)
            self._waiting_t, self._waiting_acc = self._waiting_t[cut:], self._waiting_acc[cut:]
            out += self.chunks(t, acc)
        return out

    def close(self, now_ms: int) -> list[SessionSamplesV1]:
        """The stream's last messages: the samples still waiting, then the final chunk (``last``, no samples) at
        ``now_ms``, the sender's clock when the session ended (never before the last sample sent)."""
        t = np.asarray(self._waiting_t, dtype=np.int64)
        acc = np.asarray(self._waiting_acc, dtype=np.float64).reshape(-1, 3)
        self._waiting_t, self._waiting_acc = [], []
        out = self.chunks(t, acc) if len(t) else []
        final = SessionSamplesV1(
            wearer=self.wearer,
            device=self.device,
            session=self.session,
            seq=self.seq,
            t0_ms=max(int(now_ms), self._last_ms or 0),
            dt_ms=[],
            acc_mg=[],
            last=True,
        )
        self.seq += 1
        return [*out, final]

    def chunks(self, t_ms: IntArray, acc_g: FloatArray) -> list[SessionSamplesV1]:
        """Samples (``t_ms`` (n,) Unix epoch ms ascending, ``acc_g`` (n, 3) in g) -> the stream's next messages.
        Non-finite samples and samples not after the last one sent, nor after every earlier one of ``t_ms`` (a sample
        clock that stepped back), are left out; past the limit, dropped."""
        t = np.asarray(t_ms, dtype=np.int64).reshape(-1)
        acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
        keep = np.isfinite(acc).all(axis=1)
        if self._last_ms is not None:
            keep &= t > self._last_ms
        t, acc = t[keep], acc[keep]
        rising = np.ones(len(t), dtype=bool)  # strictly increasing: each sample after every one before it
        rising[1:] = t[1:] > np.maximum.accumulate(t)[:-1]
        t, acc = t[rising], acc[rising]
        room = self.limit - self.sent
        if len(t) > room:
            self.dropped += len(t) - room
            t, acc = t[:room], acc[:room]
        out: list[SessionSamplesV1] = []
        start = 0
        while start < len(t):
            end = min(len(t), start + CHUNK_SAMPLES, int(np.searchsorted(t, t[start] + CHUNK_MS)))
            end = max(end, start + 1)
            mg = np.clip(np.round(acc[start:end] * 1000.0), -MAX_ACC_MG, MAX_ACC_MG).astype(np.int64)
            out.append(
                SessionSamplesV1(
                    wearer=self.wearer,
                    device=self.device,
                    session=self.session,
                    seq=self.seq,
                    t0_ms=int(t[start]),
                    dt_ms=(t[start:end] - t[start]).tolist(),
                    acc_mg=mg.tolist(),
                )
            )
            self.seq += 1
            start = end
        self.sent += len(t)
        if len(t):
            self._last_ms = int(t[-1])
        return out
