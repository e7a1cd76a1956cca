"""The two ends of the actor process's socket (delivery/actors/host.py), without the processes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from delivery import codec
from delivery.actors.host import REPLY, _Channel

# -- the front door's end: what is not a stream of frames closes the channel ---------------------


class _Transport:
    def __init__(self) -> None:
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def channel():
    loop = asyncio.new_event_loop()
    got: list[list] = []
    channel = _Channel(loop, got.append, got.append)
    channel.connection_made(_Transport())
    yield channel, got
    loop.close()


def test_bytes_that_are_no_frame_close_the_channel(channel, caplog):
    channel, got = channel
    with caplog.at_level(logging.ERROR, "delivery.system"):
        channel.data_received(b"\xc1 never used by msgpack")
    assert channel.transport.closed and got == []
    assert "not a frame" in caplog.text


def test_more_than_the_stream_buffers_closes_the_channel(channel, caplog):
    """The stream holds at most 100 MiB not yet decoded: past that, feed itself raises
    (BufferFull), which must end the channel as a bad frame does, not escape the protocol."""
    channel, got = channel
    huge = codec.encode(b"\0" * ((100 << 20) - 55))  # 50 bytes short of the stream's limit
    after = codec.encode([1, REPLY, "x" * 100, 0, 0, 0.0])
    with caplog.at_level(logging.ERROR, "delivery.system"):
        for start in range(0, len(huge) - 1000, 1 << 18):
            channel.data_received(huge[start:min(start + (1 << 18), len(huge) - 1000)])
        channel.data_received(huge[-1000:] + after)  # the end of one and the next, in one read
    assert channel.transport.closed and got == []
    assert "not a frame" in caplog.text
