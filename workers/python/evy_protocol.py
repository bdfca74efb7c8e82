"""The EvyJobs wire protocol (docs/protocol.md) in plain Python: frames in, frames out.

Numbers are big-endian; a string is a u32 length and UTF-8; a list is a u32 count and its items.
Frame 0 is b"EVY1", frame 1 the command byte, frame 2 the header, frame 3 (some commands) the payload.
"""
import struct

SIGNATURE = b"EVY1"
SUBMIT, SUBMITTED, READY, WELCOME, JOB, CREDIT = 0x01, 0x02, 0x10, 0x11, 0x12, 0x13
FAILED, HEARTBEAT, RESULT, RECORDED, WAIT, OUTCOME, ERROR = 0x14, 0x18, 0x20, 0x21, 0x30, 0x31, 0x7F


class Writer:
    def __init__(self):
        self.parts = []

    def u8(self, v): self.parts.append(struct.pack(">B", v)); return self
    def u16(self, v): self.parts.append(struct.pack(">H", v)); return self
    def u32(self, v): self.parts.append(struct.pack(">I", v)); return self
    def u64(self, v): self.parts.append(struct.pack(">Q", v)); return self

    def string(self, text):
        data = text.encode("utf-8")
        return self.u32(len(data)).raw(data)

    def strings(self, texts):
        self.u32(len(texts))
        for text in texts:
            self.string(text)
        return self

    def raw(self, data): self.parts.append(data); return self
    def bytes(self): return b"".join(self.parts)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def remaining(self): return len(self.data) - self.at

    def take(self, n):
        if self.at + n > len(self.data):
            raise ValueError("truncated header")
        piece = self.data[self.at:self.at + n]
        self.at += n
        return piece

    def u8(self): return struct.unpack(">B", self.take(1))[0]
    def u16(self): return struct.unpack(">H", self.take(2))[0]
    def u32(self): return struct.unpack(">I", self.take(4))[0]
    def u64(self): return struct.unpack(">Q", self.take(8))[0]
    def string(self): return self.take(self.u32()).decode("utf-8")
    def u64s(self): return [self.u64() for _ in range(self.u32())]


def frames(command, header, payload=None):
    """The frames of one message (a DEALER sends them as they are)."""
    out = [SIGNATURE, bytes([command]), header]
    if payload is not None:
        out.append(payload)
    return out


def split(message):
    """(command, Reader over the header, payload or None) of received frames; raises on a bad signature."""
    if len(message) < 3 or message[0] != SIGNATURE or len(message[1]) != 1:
        raise ValueError("not an EVY1 message")
    return message[1][0], Reader(message[2]), (message[3] if len(message) > 3 else None)
