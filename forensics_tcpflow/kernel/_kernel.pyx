# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The kernel, compiled: the per-record loop of kernel/api.py in C, run without the GIL.

The twin is kernel/pure.py: the same walk, parse and rules line for line, in plain
Python (tests/kernel/test_kernel.py holds both to the same events and batches). Every
read of capture bytes is bounds-checked against the record's end, which the walk
checked against the buffer's; a failed allocation turns into a judgement by the flow
table, never a crash.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from . import api

cdef extern from *:
    """
    static inline int ftf_mul_overflow(long long a, long long b, long long *r) { return __builtin_mul_overflow(a, b, r); }
    static inline int ftf_add_overflow(long long a, long long b, long long *r) { return __builtin_add_overflow(a, b, r); }
    """
    bint ftf_mul_overflow(long long a, long long b, long long *r) nogil
    bint ftf_add_overflow(long long a, long long b, long long *r) nogil

# The events and limits of kernel/api.py, read from it once so they are declared there alone.
cdef int END = api.END
cdef int READER = api.READER
cdef int GENERAL = api.GENERAL
cdef int JUDGE = api.JUDGE
cdef int SYNC = api.SYNC
cdef int64_t NO_SEQ = api.NO_SEQ
cdef uint32_t MAX_BLOCK = api.MAX_BLOCK

cdef int64_t NS = 1000000000
cdef uint64_t INT64_MAX = 0x7FFFFFFFFFFFFFFF
cdef uint32_t SHB = 0x0A0D0D0A, IDB = 1, PB = 2, SPB = 3, EPB = 6
cdef enum:
    FREE = 0
    BOUND = 1
    FOREIGN = 2
    KIND_GENERAL = 0
    KIND_ETHERNET = 1
    KIND_RAW = 2
    KEY_MAX = 36


cdef struct Slot:
    int state
    uint8_t key[KEY_MAX]
    int keylen
    int vlan
    int64_t seq
    int64_t packets, wire, captured, last_ts, last_frame, unordered
    uint8_t *data
    Py_ssize_t length, capacity
    uint32_t held_seq
    uint8_t *held
    Py_ssize_t held_length
    bint has_held


cdef struct Iface:
    int kind
    int64_t frac_ns
    int64_t offset_ns


cdef inline uint32_t rd32(const uint8_t *p, bint big) noexcept nogil:
    if big:
        return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]
    return (<uint32_t>p[3] << 24) | (<uint32_t>p[2] << 16) | (<uint32_t>p[1] << 8) | p[0]


cdef inline uint32_t be32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline int be16(const uint8_t *p) noexcept nogil:
    return (p[0] << 8) | p[1]


cdef inline int32_t signed32(int64_t x) noexcept nogil:
    return <int32_t><uint32_t>x


cdef inline uint64_t key_hash(const uint8_t *key, int keylen, int vlan) noexcept nogil:
    cdef uint64_t h = 1469598103934665603ULL
    cdef int i
    for i in range(keylen):
        h = (h ^ key[i]) * 1099511628211ULL
    h = (h ^ <uint64_t>(vlan + 1)) * 1099511628211ULL
    return h ^ (h >> 29)


cdef class Kernel:
    """One capture's per-record loop (see kernel/api.py for the contract)."""

    cdef public int64_t pos, next, packets, truncated, first_ts, last_ts
    cdef public int64_t interface, data, end, caplen, origlen, ts
    cdef public int64_t l3, tcp, payload, ip_end, seq, flags, vlan, slot
    cdef public bint v4
    cdef Py_ssize_t key_at, key_len
    cdef bytes _buf
    cdef bint pcapng, big
    cdef Iface *ifaces
    cdef uint32_t n_ifaces
    cdef uint64_t snaplimit
    cdef int64_t max_seek
    cdef Py_ssize_t sync_bytes, budget
    cdef Slot *slots
    cdef Py_ssize_t n_slots, slots_cap
    cdef int64_t *free_slots
    cdef Py_ssize_t n_free
    cdef int64_t *table          # slot + 1 per bucket; 0 empty, -1 removed
    cdef Py_ssize_t table_cap, table_used

    def __cinit__(self, settings):
        cdef Py_ssize_t i
        self.pcapng = settings.pcapng
        self.big = settings.big
        self.n_ifaces = len(settings.interfaces)
        self.ifaces = <Iface *>malloc(max(1, self.n_ifaces) * sizeof(Iface))
        self.slots_cap = 64
        self.slots = <Slot *>malloc(self.slots_cap * sizeof(Slot))
        self.free_slots = <int64_t *>malloc(self.slots_cap * sizeof(int64_t))
        self.table_cap = 256
        self.table = <int64_t *>malloc(self.table_cap * sizeof(int64_t))
        if not self.ifaces or not self.slots or not self.free_slots or not self.table:
            raise MemoryError()
        memset(self.table, 0, self.table_cap * sizeof(int64_t))
        for i, interface in enumerate(settings.interfaces):
            self.ifaces[i].kind = (KIND_ETHERNET if interface.linktype == 1 else
                                   KIND_RAW if interface.linktype in (12, 14, 101) else KIND_GENERAL)
            self.ifaces[i].frac_ns = interface.frac_ns
            self.ifaces[i].offset_ns = interface.offset_ns
        self.snaplimit = settings.snaplimit
        self.max_seek = settings.max_seek
        self.sync_bytes = settings.sync_bytes
        self.budget = settings.budget
        self.first_ts = self.last_ts = -1
        self.vlan = self.slot = -1

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.slots:
            for i in range(self.n_slots):
                free(self.slots[i].data)
                free(self.slots[i].held)
        free(self.slots)
        free(self.free_slots)
        free(self.table)
        free(self.ifaces)

    @property
    def key(self) -> bytes:
        return self._buf[self.key_at:self.key_at + self.key_len] if self._buf is not None else b""

    # -- the loop ----------------------------------------------------------------------------
    def run(self, bytes buf, Py_ssize_t pos) -> int:
        cdef const uint8_t *b = <const uint8_t *>PyBytes_AS_STRING(buf)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
        cdef int event
        self._buf = buf
        with nogil:
            event = self._run_pcapng(b, end, pos) if self.pcapng else self._run_pcap(b, end, pos)
        return event

    cdef int _run_pcap(self, const uint8_t *b, Py_ssize_t end, Py_ssize_t pos) noexcept nogil:
        cdef uint32_t sec, frac, caplen, origlen
        cdef Py_ssize_t stop
        cdef int event
        cdef int64_t frac_ns = self.ifaces[0].frac_ns
        while True:
            self.pos = pos
            if pos + 16 > end:
                return END
            sec = rd32(b + pos, self.big)
            frac = rd32(b + pos + 4, self.big)
            caplen = rd32(b + pos + 8, self.big)
            origlen = rd32(b + pos + 12, self.big)
            if caplen > self.snaplimit:
                return READER
            stop = pos + 16 + <Py_ssize_t>caplen
            if stop > end:
                return END
            event = self._walked(b, 0, pos + 16, stop, caplen, origlen, <int64_t>sec * NS + <int64_t>frac * frac_ns, stop)
            if event != END:
                return event
            pos = stop

    cdef int _run_pcapng(self, const uint8_t *b, Py_ssize_t end, Py_ssize_t pos) noexcept nogil:
        cdef uint32_t btype, blen, iface, caplen, origlen
        cdef uint64_t raw
        cdef long long scaled, ts
        cdef int event
        while True:
            self.pos = pos
            if pos + 8 > end:
                return END
            btype = rd32(b + pos, self.big)
            blen = rd32(b + pos + 4, self.big)
            if (btype == SHB or btype == IDB or btype == PB or btype == SPB or blen < 12 or blen % 4
                    or blen > MAX_BLOCK):
                return READER
            if pos + <Py_ssize_t>blen > end:
                return END
            if rd32(b + pos + blen - 4, self.big) != blen:
                return READER
            if btype == EPB:
                if blen < 32:
                    return READER
                iface = rd32(b + pos + 8, self.big)
                caplen = rd32(b + pos + 20, self.big)
                origlen = rd32(b + pos + 24, self.big)
                if iface >= self.n_ifaces or 28 + <uint64_t>caplen > blen - 4:
                    return READER
                raw = (<uint64_t>rd32(b + pos + 12, self.big) << 32) | rd32(b + pos + 16, self.big)
                if (raw > INT64_MAX or ftf_mul_overflow(<long long>raw, self.ifaces[iface].frac_ns, &scaled)
                        or ftf_add_overflow(scaled, self.ifaces[iface].offset_ns, &ts)):
                    return READER
                event = self._walked(b, iface, pos + 28, pos + 28 + caplen, caplen, origlen, ts, pos + blen)
                if event != END:
                    return event
            pos += blen

    cdef int _walked(self, const uint8_t *b, uint32_t iface, Py_ssize_t d, Py_ssize_t e, uint32_t caplen,
                     uint32_t origlen, int64_t ts, Py_ssize_t stop) noexcept nogil:
        self.packets += 1
        if self.packets == 1:
            self.first_ts = ts
        self.last_ts = ts
        if caplen < origlen:
            self.truncated += 1
        self.next = stop
        self.interface, self.data, self.end, self.caplen, self.origlen, self.ts = iface, d, e, caplen, origlen, ts
        if self.ifaces[iface].kind == KIND_GENERAL:
            return GENERAL
        return self._packet(b, d, e, self.ifaces[iface].kind == KIND_ETHERNET, caplen, origlen, ts)

    # -- one packet --------------------------------------------------------------------------
    cdef int _packet(self, const uint8_t *b, Py_ssize_t d, Py_ssize_t e, bint ethernet, uint32_t caplen,
                     uint32_t origlen, int64_t ts) noexcept nogil:
        cdef int vid = -1, etype, total, plen
        cdef Py_ssize_t l3, ip_end, t, p, key_at, key_len
        cdef bint v4
        cdef uint32_t seq, flags
        cdef int64_t slot
        cdef Slot *s
        if ethernet:
            if e - d < 14:
                return GENERAL
            etype = be16(b + d + 12)
            l3 = d + 14
            if etype == 0x8100 and e - l3 >= 4:
                vid = ((b[l3] & 0x0F) << 8) | b[l3 + 1]
                etype = be16(b + l3 + 2)
                l3 += 4
        else:
            l3 = d
            etype = 0x0800 if e > d and b[d] >> 4 == 4 else 0x86DD
        if etype == 0x0800 and e - l3 >= 20:
            total = be16(b + l3 + 2)
            ip_end = l3 + total
            if b[l3] != 0x45 or b[l3 + 9] != 6 or be16(b + l3 + 6) & 0x3FFF or total < 20 or ip_end > e:
                return GENERAL
            t, key_at, key_len, v4 = l3 + 20, l3 + 12, 12, True
        elif etype == 0x86DD and e - l3 >= 40:
            plen = be16(b + l3 + 4)
            ip_end = l3 + 40 + plen
            if b[l3] >> 4 != 6 or b[l3 + 6] != 6 or not plen or ip_end > e:
                return GENERAL
            t, key_at, key_len, v4 = l3 + 40, l3 + 8, 36, False
        else:
            return GENERAL
        if ip_end - t < 20:
            return GENERAL
        seq = be32(b + t + 4)
        flags = b[t + 13]
        p = t + ((b[t + 12] >> 4) << 2)
        if p < t + 20 or p > ip_end:
            return GENERAL
        slot = self._find(b + key_at, key_len, vid)
        if slot >= 0:
            s = &self.slots[slot]
            if s.state == FOREIGN:
                return END
            if not flags & 0x07 and self._apply(s, b, p, ip_end, seq, caplen, origlen, ts):
                if s.length < min(self.sync_bytes, self.budget // (self.n_slots - self.n_free)):
                    return END
                self.slot = slot
                return SYNC
        self.l3, self.tcp, self.payload, self.ip_end, self.seq, self.flags = l3, t, p, ip_end, seq, flags
        self.vlan, self.v4, self.key_at, self.key_len, self.slot = vid, v4, key_at, key_len, slot
        return JUDGE

    cdef bint _apply(self, Slot *s, const uint8_t *b, Py_ssize_t p, Py_ssize_t ip_end, uint32_t seq,
                     uint32_t caplen, uint32_t origlen, int64_t ts) noexcept nogil:
        """Apply a plain packet of a bound direction; False when it needs judgement."""
        cdef Py_ssize_t n = ip_end - p, start
        cdef int32_t delta, ahead
        if n:
            if s.seq == NO_SEQ:
                return False
            delta = signed32(<int64_t>seq - s.seq)
            if delta == 0:
                if s.has_held:
                    ahead = signed32(<int64_t>s.held_seq - s.seq)
                    if n > ahead:
                        return False
                    if not self._gather(s, b + p, n, s.held_length if n == ahead else 0):
                        return False
                    s.seq += n
                    if n == ahead:
                        memcpy(s.data + s.length, s.held, s.held_length)
                        s.length += s.held_length
                        s.seq += s.held_length
                        free(s.held)
                        s.held = NULL
                        s.has_held = False
                        s.unordered += 1
                elif not self._gather(s, b + p, n, 0):
                    return False
                else:
                    s.seq += n
                s.seq &= <int64_t>0xFFFFFFFF
            elif delta > 0:
                if s.has_held or delta > self.max_seek:
                    return False
                s.held = <uint8_t *>malloc(n)
                if s.held == NULL:
                    return False
                memcpy(s.held, b + p, n)
                s.held_length, s.held_seq, s.has_held = n, seq, True
            else:
                start = s.length + delta
                if delta + n > 0 or start < 0 or memcmp(s.data + start, b + p, n) != 0:
                    return False
                s.unordered += 1
        s.packets += 1
        s.wire += origlen
        s.captured += caplen
        s.last_ts = ts
        s.last_frame = self.packets
        return True

    cdef bint _gather(self, Slot *s, const uint8_t *src, Py_ssize_t n, Py_ssize_t extra) noexcept nogil:
        """Append `n` bytes to the slot's buffer, with room for `extra` more; False if memory ran out."""
        cdef Py_ssize_t need = s.length + n + extra, capacity
        cdef uint8_t *grown
        if need > s.capacity:
            capacity = max(need, min(2 * s.capacity + 2048, self.sync_bytes + 2048))
            grown = <uint8_t *>realloc(s.data, capacity)
            if grown == NULL:
                return False
            s.data, s.capacity = grown, capacity
        memcpy(s.data + s.length, src, n)
        s.length += n
        return True

    # -- the index -----------------------------------------------------------------------------
    cdef int64_t _find(self, const uint8_t *key, int keylen, int vlan) noexcept nogil:
        cdef uint64_t mask = self.table_cap - 1
        cdef uint64_t i = key_hash(key, keylen, vlan) & mask
        cdef int64_t entry
        cdef Slot *s
        while True:
            entry = self.table[i]
            if entry == 0:
                return -1
            if entry > 0:
                s = &self.slots[entry - 1]
                if s.keylen == keylen and s.vlan == vlan and memcmp(s.key, key, keylen) == 0:
                    return entry - 1
            i = (i + 1) & mask

    cdef void _place(self, int64_t slot) noexcept:
        cdef Slot *s = &self.slots[slot]
        cdef uint64_t mask = self.table_cap - 1
        cdef uint64_t i = key_hash(s.key, s.keylen, s.vlan) & mask
        while self.table[i] > 0:
            i = (i + 1) & mask
        if self.table[i] == 0:
            self.table_used += 1
        self.table[i] = slot + 1

    cdef void _rebuild(self, Py_ssize_t capacity) except *:
        cdef int64_t *table = <int64_t *>malloc(capacity * sizeof(int64_t))
        cdef Py_ssize_t i
        if table == NULL:
            raise MemoryError()
        memset(table, 0, capacity * sizeof(int64_t))
        free(self.table)
        self.table, self.table_cap, self.table_used = table, capacity, 0
        for i in range(self.n_slots):
            if self.slots[i].state != FREE:
                self._place(i)

    cdef int64_t _new_slot(self, bytes key, int vlan, int state, int64_t seq) except -1:
        cdef int64_t slot
        cdef Slot *s
        cdef Py_ssize_t live = self.n_slots - self.n_free
        if len(key) > KEY_MAX:
            raise ValueError("a flow key is at most 36 bytes")
        if 2 * (self.table_used + 1) > self.table_cap:
            self._rebuild(self.table_cap * 2 if 4 * (live + 1) > self.table_cap else self.table_cap)
        if self.n_free:
            self.n_free -= 1
            slot = self.free_slots[self.n_free]
        else:
            if self.n_slots == self.slots_cap:
                self._grow_slots()
            slot = self.n_slots
            self.n_slots += 1
        s = &self.slots[slot]
        memset(s, 0, sizeof(Slot))
        memcpy(s.key, PyBytes_AS_STRING(key), len(key))
        s.keylen, s.vlan, s.state, s.seq = len(key), vlan, state, seq
        self._place(slot)
        return slot

    cdef void _grow_slots(self) except *:
        cdef Py_ssize_t capacity = self.slots_cap * 2
        cdef Slot *slots = <Slot *>realloc(self.slots, capacity * sizeof(Slot))
        if slots == NULL:
            raise MemoryError()
        self.slots = slots
        cdef int64_t *free_slots = <int64_t *>realloc(self.free_slots, capacity * sizeof(int64_t))
        if free_slots == NULL:
            raise MemoryError()
        self.free_slots, self.slots_cap = free_slots, capacity

    cdef Slot *_slot(self, int64_t slot) except NULL:
        if slot < 0 or slot >= self.n_slots or self.slots[slot].state == FREE:
            raise ValueError(f"slot {slot} is not bound")
        return &self.slots[slot]

    # -- bindings ----------------------------------------------------------------------------
    def bind(self, bytes key, int vlan, int64_t seq) -> int:
        cdef int64_t slot = self._find(<const uint8_t *>PyBytes_AS_STRING(key), len(key), vlan) if len(key) <= KEY_MAX else -1
        if slot < 0:
            return self._new_slot(key, vlan, BOUND, seq)
        self.slots[slot].state, self.slots[slot].seq = BOUND, seq
        return slot

    def foreign(self, bytes key, int vlan) -> None:
        self._new_slot(key, vlan, FOREIGN, NO_SEQ)

    def forget_foreign(self) -> None:
        cdef Py_ssize_t i
        for i in range(self.n_slots):
            if self.slots[i].state == FOREIGN:
                self.unbind(i)

    def update(self, int64_t slot, int64_t seq) -> None:
        self._slot(slot).seq = seq

    def unbind(self, int64_t slot) -> None:
        cdef Slot *s = self._slot(slot)
        cdef uint64_t mask = self.table_cap - 1
        cdef uint64_t i = key_hash(s.key, s.keylen, s.vlan) & mask
        while self.table[i] != slot + 1:
            i = (i + 1) & mask
        self.table[i] = -1
        free(s.data)
        free(s.held)
        memset(s, 0, sizeof(Slot))
        self.free_slots[self.n_free] = slot
        self.n_free += 1

    def take(self, int64_t slot, bint held):
        cdef Slot *s = self._slot(slot)
        cdef bint give = held and s.has_held
        if not s.packets and not give:
            return None
        batch = (s.packets, s.wire, s.captured, s.last_ts, s.last_frame,
                 PyBytes_FromStringAndSize(<char *>s.data, s.length) if s.length else b"", s.unordered,
                 s.held_seq if give else 0,
                 PyBytes_FromStringAndSize(<char *>s.held, s.held_length) if give else None)
        s.packets = s.wire = s.captured = s.unordered = 0
        free(s.data)                   # memory follows the data in flight, not the directions ever bound
        s.data, s.length, s.capacity = NULL, 0, 0
        if give:
            free(s.held)
            s.held = NULL
            s.has_held = False
            s.seq = NO_SEQ
        return batch

    def bound(self) -> list:
        return [i for i in range(self.n_slots) if self.slots[i].state == BOUND]
