"""Reliable message link over a byte stream: stop-and-wait ARQ.

Each side has at most one unacknowledged data frame in flight, which is also
the flow control: a pty or UART FIFO only ever holds one data frame, a few
ACKs and at most a handful of retransmissions, so it can never fill up and
deadlock. Both sides keep reading (and ACKing) while they wait for their ACK,
so a host request and a board event crossing on the wire are both fine.

Recovery:
- receiver gets a damaged frame   -> sends NAK; a peer with a frame in flight
                                     resends it at once (no timeout wait)
- a frame stops mid-way for       -> its 0x00 was lost: treated as damaged (NAK)
  gap_timeout                        instead of waiting for the next frame
- sender gets a damaged frame     -> it may have been our ACK: resend now
- nothing arrives in ack_timeout  -> resend; after `retries` silent timeouts
                                     or `max_attempts` sends: LinkError, noisy
                                     if damaged frames (or NAKs) kept coming
- duplicate (same seq and SYNC)   -> ACK again, deliver nothing
- receiver inbox full             -> no ACK, so the sender backs off and resends

The same class runs on both sides. The board calls poll() from its main loop
(no threads); send() blocks at most about max_attempts * ack_timeout.
"""

import struct

from .clock import now
from .frame import FrameDecoder, encode_frame, MAX_PAYLOAD

ACK = 0x01          # control frame: seq = the data seq being acknowledged
NAK = 0x02          # control frame: "got garbage"; seq = last data seq accepted

FLAG_EVENT = 0x01   # unsolicited message (PROGRESS, LOG)
FLAG_REQUEST = 0x02  # sender waits for a reply carrying the same tag
FLAG_REPLY = 0x04
FLAG_SYNC = 0x08    # data: sent before the sender's first ACK; NAK: seq is valid
TAG_SHIFT = 4       # flags bits 4..7: request tag 1..15 echoed by the reply


class LinkError(Exception):
    """The link could not deliver: peer silent, line too noisy, transport gone.

    noisy: the peer was heard meanwhile (its bytes arrived, damaged or not), so
    the line is at fault, not a silent peer; retransmissions: resends and
    damaged frames it took."""

    def __init__(self, text, noisy=False, retransmissions=0):
        Exception.__init__(self, text)
        self.noisy = noisy
        self.retransmissions = retransmissions


class Message:
    __slots__ = ("msg_type", "payload", "flags")

    def __init__(self, msg_type, payload, flags):
        self.msg_type = msg_type
        self.payload = payload
        self.flags = flags

    @property
    def tag(self):
        return self.flags >> TAG_SHIFT

    @property
    def is_event(self):
        return bool(self.flags & FLAG_EVENT)

    @property
    def is_request(self):
        return bool(self.flags & FLAG_REQUEST)

    def __repr__(self):
        return "Message(type=0x%02x, flags=0x%02x, %d bytes)" % (self.msg_type, self.flags, len(self.payload))


def _random_seq():
    # A fresh random start makes a restarted peer's first frame look new.
    try:
        import os
        return struct.unpack("<H", os.urandom(2))[0]
    except (ImportError, AttributeError, NotImplementedError):
        return int(now() * 1000003) & 0xFFFF


class Link:
    max_payload = MAX_PAYLOAD

    def __init__(self, transport, ack_timeout=0.2, retries=8, max_attempts=64,
                 reply_timeout=5.0, on_event=None, max_inbox=8, peer_name="board",
                 gap_timeout=None):
        self.transport = transport
        self.ack_timeout = ack_timeout
        self.retries = retries
        # Bytes of one frame arrive back to back; a pause this long inside a
        # frame means its delimiter was lost.
        self.gap_timeout = ack_timeout / 4 if gap_timeout is None else gap_timeout
        self.max_attempts = max_attempts
        self.reply_timeout = reply_timeout
        self.on_event = on_event        # callable(Message); must not use the link
        self.max_inbox = max_inbox
        self.peer_name = peer_name
        self.inbox = []                 # delivered messages waiting for poll()
        self.last_attempts = 0          # sends the last send() needed (1 = clean)
        self.stats = {"sent": 0, "resent": 0, "timeouts": 0, "received": 0, "damaged": 0,
                      "duplicates": 0, "naks_sent": 0, "refused_full": 0, "stale_replies": 0,
                      "bytes_in": 0}
        self._decoder = FrameDecoder()
        self._last_rx = now()
        self._tx_seq = _random_seq()
        self._tx_sync = True
        self._awaiting = None           # seq of our frame in flight
        self._acked = False
        self._resend_now = False
        self._peer_seq = None           # (seq, sync) of the last data frame accepted
        self._tag = 0
        self._pending_tag = None
        self._reply = None

    # ---- sending -------------------------------------------------------

    def send(self, msg_type, payload=b"", flags=0):
        """Deliver one message; returns once the peer ACKed it."""
        seq = self._tx_seq
        if self._tx_sync:
            flags |= FLAG_SYNC
        wire = encode_frame(msg_type, flags, seq, payload)
        self._awaiting = seq
        self._acked = False
        try:
            self._send_until_acked(wire, msg_type, seq)
            self._tx_sync = False
        finally:
            self._awaiting = None
            # Even after a failure: the peer may have got the frame (only the
            # ACKs were lost) and would take a reused seq for a duplicate.
            self._tx_seq = (seq + 1) & 0xFFFF

    def _send_until_acked(self, wire, msg_type, seq):
        timeouts = 0
        attempts = 0
        heard, damaged = self.stats["bytes_in"], self.stats["damaged"]
        while True:
            self._write(wire)
            attempts += 1
            self.stats["sent"] += 1
            if attempts > 1:
                self.stats["resent"] += 1
            self._resend_now = False
            deadline = now() + self.ack_timeout
            while not (self._acked or self._resend_now) and now() < deadline:
                self._pump()
            if self._acked:
                self.last_attempts = attempts
                return
            if not self._resend_now:
                timeouts += 1
                self.stats["timeouts"] += 1
            if timeouts > self.retries or attempts >= self.max_attempts:
                what = "message 0x%02x seq %d not acknowledged after %d sends" % (msg_type, seq, attempts)
                raise self._failure(what, heard, damaged, attempts - 1)

    def send_event(self, msg_type, payload=b""):
        self.send(msg_type, payload, FLAG_EVENT)

    def reply(self, request, msg_type, payload=b""):
        """Answer a Message that came from poll() with is_request set."""
        self.send(msg_type, payload, FLAG_REPLY | (request.tag << TAG_SHIFT))

    def request(self, msg_type, payload=b"", timeout=None):
        """Send a request and wait for its reply -> (reply_type, reply_payload).

        Events that arrive meanwhile go to on_event, or to the inbox.
        """
        self._tag = self._tag % 15 + 1
        self._pending_tag = self._tag
        self._reply = None
        try:
            self.send(msg_type, payload, FLAG_REQUEST | (self._tag << TAG_SHIFT))
            wait = self.reply_timeout if timeout is None else timeout
            deadline = now() + wait
            heard, damaged = self.stats["bytes_in"], self.stats["damaged"]
            while self._reply is None:
                if now() >= deadline:
                    what = "no reply to message 0x%02x within %.2f s" % (msg_type, wait)
                    raise self._failure(what, heard, damaged, 0)
                self._pump()
            return self._reply.msg_type, self._reply.payload
        finally:
            self._pending_tag = None

    def _failure(self, what, heard_before, damaged_before, resends):
        """LinkError telling a noisy line (damaged frames came, or the peer kept
        answering our resends with NAKs) from a silent peer."""
        damaged = self.stats["damaged"] - damaged_before
        retransmissions = resends + damaged
        if damaged or (resends and self.stats["bytes_in"] > heard_before):
            return LinkError("line too noisy (%d retransmissions): %s" % (retransmissions, what),
                             noisy=True, retransmissions=retransmissions)
        return LinkError("%s stopped answering: %s" % (self.peer_name, what),
                         retransmissions=retransmissions)

    # ---- receiving -----------------------------------------------------

    def poll(self, timeout=0):
        """Next delivered Message, or None once `timeout` seconds passed.

        With timeout=0 it reads the transport once (waiting at most the
        transport's own read timeout), which is what a board main loop wants.
        """
        deadline = now() + timeout
        while not self.inbox:
            self._pump()
            if self.inbox or now() >= deadline:
                break
        return self.inbox.pop(0) if self.inbox else None

    def _pump(self):
        data = self._read()
        if not data:
            self._check_gap()
            return
        self.stats["bytes_in"] += len(data)
        self._last_rx = now()
        for frame in self._decoder.feed(data):
            if frame is None:
                self._on_damaged()
            else:
                self._on_frame(frame)

    def _check_gap(self):
        if self._decoder.in_frame and now() - self._last_rx > self.gap_timeout:
            self._decoder.drop_partial()
            self._on_damaged()

    def _on_damaged(self):
        self.stats["damaged"] += 1
        self.stats["naks_sent"] += 1
        if self._peer_seq is None:
            self._write(encode_frame(NAK, 0, 0))
        else:
            self._write(encode_frame(NAK, FLAG_SYNC, self._peer_seq[0]))
        if self._awaiting is not None:
            self._resend_now = True  # the garbage may have been our ACK

    def _on_frame(self, frame):
        if frame.frame_type == ACK:
            if frame.seq == self._awaiting:
                self._acked = True
        elif frame.frame_type == NAK:
            self._on_nak(frame)
        else:
            self._on_data(frame)

    def _on_nak(self, frame):
        if self._awaiting is None:
            return
        peer_has_it = frame.flags & FLAG_SYNC and frame.seq == self._awaiting and not self._tx_sync
        if peer_has_it:
            self._acked = True
        else:
            self._resend_now = True

    def _on_data(self, frame):
        sync = bool(frame.flags & FLAG_SYNC)
        if self._peer_seq == (frame.seq, sync):
            self.stats["duplicates"] += 1
            self._ack(frame.seq)
            return
        message = Message(frame.frame_type, frame.payload, frame.flags)
        if not self._has_room_for(message):
            self.stats["refused_full"] += 1
            return  # no ACK: the sender will resend once we have room
        self._peer_seq = (frame.seq, sync)
        self.stats["received"] += 1
        self._ack(frame.seq)
        self._route(message)

    def _has_room_for(self, message):
        if message.flags & FLAG_REPLY:
            return True
        if message.is_event and self.on_event is not None:
            return True
        return len(self.inbox) < self.max_inbox

    def _route(self, message):
        if message.flags & FLAG_REPLY:
            if message.tag == self._pending_tag and self._reply is None:
                self._reply = message
                if self._awaiting is not None:
                    self._acked = True  # a reply proves the request arrived
            else:
                self.stats["stale_replies"] += 1
        elif message.is_event and self.on_event is not None:
            self.on_event(message)
        else:
            self.inbox.append(message)

    def _ack(self, seq):
        self._write(encode_frame(ACK, 0, seq))

    # ---- transport -----------------------------------------------------

    def _read(self):
        """Whatever bytes are available, waiting at most the transport timeout."""
        transport = self.transport
        try:
            waiting = transport.in_waiting
            data = transport.read(waiting if waiting > 0 else 1)
            if data:
                waiting = transport.in_waiting
                if waiting > 0:
                    data += transport.read(waiting)
        except OSError as error:
            raise LinkError("serial transport failed while reading: %s" % error)
        return data

    def _write(self, data):
        try:
            self.transport.write(data)
        except OSError as error:
            raise LinkError("serial transport failed while writing: %s" % error)
