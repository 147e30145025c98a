"""numba kernels over a window of classic-pcap bytes: walk, parse, group into runs."""

from __future__ import annotations

import sys

import numpy as np
from numba import njit, types
from numba.typed import Dict


def _load_cpu_target_without_blas() -> None:
    """numba probes scipy's BLAS when its CPU target first loads: 16 MB of scipy.linalg where
    scipy is installed, for linear algebra these kernels never do. The probe is shown no
    scipy.linalg; the process can still import it afterwards."""
    if "scipy.linalg" in sys.modules:
        return
    sys.modules["scipy.linalg"] = None     # type: ignore[assignment]
    try:
        from numba.core.registry import cpu_target
        cpu_target.target_context.refresh()
    except (ImportError, AttributeError):   # another numba: it loads the target its own way later
        pass
    finally:
        del sys.modules["scipy.linalg"]


_load_cpu_target_without_blas()

MAX_CAPLEN = 262144
KIND_FAST = 0        # plain TCP the kernels fully decoded
KIND_OTHER = 1       # anything else: the general decoder decides
KIND_SKIP = 2        # plain TCP of a connection another shard owns

FLAG_CONTROL = 0x07  # FIN, SYN, RST: handled one packet at a time

_KEY = types.UniTuple(types.int64, 6)


@njit(cache=True, nogil=True)
def _u16(b, o):
    return (np.int64(b[o]) << 8) | np.int64(b[o + 1])


@njit(cache=True, nogil=True)
def _u32(b, o):
    return (np.int64(b[o]) << 24) | (np.int64(b[o + 1]) << 16) | (np.int64(b[o + 2]) << 8) | np.int64(b[o + 3])


@njit(cache=True, nogil=True)
def _u32le(b, o):
    return (np.int64(b[o + 3]) << 24) | (np.int64(b[o + 2]) << 16) | (np.int64(b[o + 1]) << 8) | np.int64(b[o])


@njit(cache=True, nogil=True)
def _u64(b, o):
    v = np.int64(0)
    for k in range(8):
        v = (v << 8) | np.int64(b[o + k])
    return v


@njit(cache=True, nogil=True)
def walk(buf, pos, end, big, frac_ns, snaplen, rec_off, data_off, caplen, origlen, ts_ns):
    """Record headers from `pos` while whole records fit; returns (count, next pos, status).

    status 0: stopped at the window's end or the output's size; 1: a record
    header claims a length no capture can have (the general reader reports it).
    """
    n = 0
    limit = rec_off.shape[0]
    while n < limit and pos + 16 <= end:
        if big:
            sec = _u32(buf, pos)
            frac = _u32(buf, pos + 4)
            cl = _u32(buf, pos + 8)
            ol = _u32(buf, pos + 12)
        else:
            sec = _u32le(buf, pos)
            frac = _u32le(buf, pos + 4)
            cl = _u32le(buf, pos + 8)
            ol = _u32le(buf, pos + 12)
        if cl > MAX_CAPLEN and cl > snaplen:
            return n, pos, 1
        if pos + 16 + cl > end:
            break
        rec_off[n] = pos
        data_off[n] = pos + 16
        caplen[n] = cl
        origlen[n] = ol
        ts_ns[n] = sec * 1000000000 + frac * frac_ns
        n += 1
        pos += 16 + cl
    return n, pos, 0


PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_EPB = 6


@njit(cache=True, nogil=True)
def walk_pcapng(buf, pos, end, big, frac_ns, offset_ns, rec_off, data_off, caplen, origlen, ts_ns):
    """Enhanced packet blocks of interface 0 from `pos`; (count, next pos, status) as walk().

    status 1: a corrupt block; 2: a block the general reader must see (another
    section or interface, an obsolete or simple packet block).
    """
    n = 0
    limit = rec_off.shape[0]
    while n < limit and pos + 8 <= end:
        btype = _u32(buf, pos) if big else _u32le(buf, pos)
        blen = _u32(buf, pos + 4) if big else _u32le(buf, pos + 4)
        if btype == PCAPNG_SHB or btype == 1 or btype == 2 or btype == 3:
            return n, pos, 2
        if blen < 12 or blen % 4 != 0 or blen > (64 << 20):
            return n, pos, 1
        if pos + blen > end:
            break
        if btype == PCAPNG_EPB:
            if blen < 32:
                return n, pos, 1
            if big:
                ifid = _u32(buf, pos + 8)
                ts = (_u32(buf, pos + 12) << 32) | _u32(buf, pos + 16)
                cl = _u32(buf, pos + 20)
                ol = _u32(buf, pos + 24)
            else:
                ifid = _u32le(buf, pos + 8)
                ts = (_u32le(buf, pos + 12) << 32) | _u32le(buf, pos + 16)
                cl = _u32le(buf, pos + 20)
                ol = _u32le(buf, pos + 24)
            if ifid != 0 or 28 + cl > blen - 4:
                return n, pos, 2
            rec_off[n] = pos
            data_off[n] = pos + 28
            caplen[n] = cl
            origlen[n] = ol
            ts_ns[n] = ts * frac_ns + offset_ns
            n += 1
        pos += blen
    return n, pos, 0


@njit(cache=True, nogil=True)
def parse(buf, data_off, caplen, n, linktype, kind, fam, addr, ports, seq, ack, flags, poff, plen, vlan):
    """Decode Ethernet (one optional 802.1Q tag) or raw IP, then IPv4/IPv6 without options chains, then TCP.

    addr[i] = (src hi, src lo, dst hi, dst lo); an IPv4 address is in lo.
    Anything unusual (fragments, extension headers, truncation, other protocols)
    is left to the general decoder as KIND_OTHER.
    """
    for i in range(n):
        kind[i] = KIND_OTHER
        plen[i] = 0
        base = data_off[i]
        stop = base + caplen[i]
        o = base
        vlan[i] = -1
        if linktype == 1:
            if caplen[i] < 14:
                continue
            et = _u16(buf, o + 12)
            o += 14
            if et == 0x8100:
                if o + 4 > stop:
                    continue
                vlan[i] = _u16(buf, o) & 0x0FFF
                et = _u16(buf, o + 2)
                o += 4
            if et == 0x0800:
                ver = 4
            elif et == 0x86DD:
                ver = 6
            else:
                continue
        else:
            if caplen[i] < 1:
                continue
            ver = buf[o] >> 4
        if ver == 4:
            if o + 20 > stop or (buf[o] >> 4) != 4:
                continue
            ihl = (buf[o] & 0x0F) * 4
            tot = _u16(buf, o + 2)
            if ihl < 20 or buf[o + 9] != 6 or (_u16(buf, o + 6) & 0x3FFF) != 0:
                continue
            if tot == 0 or tot < ihl or o + tot > stop:
                continue
            fam[i] = 4
            addr[i, 0] = 0
            addr[i, 1] = _u32(buf, o + 12)
            addr[i, 2] = 0
            addr[i, 3] = _u32(buf, o + 16)
            t = o + ihl
            ip_end = o + tot
        elif ver == 6:
            if o + 40 > stop or (buf[o] >> 4) != 6 or buf[o + 6] != 6:
                continue
            pl = _u16(buf, o + 4)
            if pl == 0 or o + 40 + pl > stop:
                continue
            fam[i] = 6
            addr[i, 0] = _u64(buf, o + 8)
            addr[i, 1] = _u64(buf, o + 16)
            addr[i, 2] = _u64(buf, o + 24)
            addr[i, 3] = _u64(buf, o + 32)
            t = o + 40
            ip_end = o + 40 + pl
        else:
            continue
        if t + 20 > ip_end:
            continue
        doff = (buf[t + 12] >> 4) * 4
        if doff < 20 or t + doff > ip_end:
            continue
        ports[i, 0] = _u16(buf, t)
        ports[i, 1] = _u16(buf, t + 2)
        seq[i] = _u32(buf, t + 4)
        ack[i] = _u32(buf, t + 8)
        flags[i] = buf[t + 13]
        poff[i] = t + doff
        plen[i] = ip_end - (t + doff)
        kind[i] = KIND_FAST


@njit(cache=True, nogil=True)
def claim(n, kind, fam, addr, ports, vlan, shards, shard):
    """Mark the plain packets whose connection belongs to another shard (see shard_of)."""
    for i in range(n):
        if kind[i] != KIND_FAST:
            continue
        x = np.uint64(addr[i, 0] ^ addr[i, 1] ^ addr[i, 2] ^ addr[i, 3])
        x ^= np.uint64((ports[i, 0] ^ ports[i, 1]) * 0x9E3779B1)
        x ^= np.uint64((vlan[i] + 1) * 0x85EBCA6B)
        x = (x * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
        if x % np.uint64(shards) != np.uint64(shard):
            kind[i] = KIND_SKIP


@njit(cache=True, nogil=True)
def _open_run(i, r, nbytes, plain, run_of, run_first, run_count, run_bytes, run_plain):
    """Start run r at packet i; returns the next run number."""
    run_of[i] = r
    run_first[r] = i
    run_count[r] = 1
    run_bytes[r] = nbytes
    run_plain[r] = plain
    return r + 1


@njit(cache=True, nogil=True)
def runs(n, kind, fam, addr, ports, seq, flags, plen, vlan, run_of, run_first, run_count, run_bytes, run_plain):
    """Group plain packets into per-direction runs of in-sequence data.

    A control packet (SYN/FIN/RST) is a run of its own and closes the open
    runs of both directions of its connection; a packet the kernels could not
    decode closes every open run. Runs are numbered in order of their first
    packet, which is the order the general path would meet them.
    """
    open_run = Dict.empty(key_type=_KEY, value_type=types.int64)
    expect = Dict.empty(key_type=_KEY, value_type=types.int64)
    nruns = 0
    for i in range(n):
        if kind[i] == KIND_SKIP:
            run_of[i] = -1
            continue
        if kind[i] != KIND_FAST:
            open_run.clear()
            nruns = _open_run(i, nruns, 0, False, run_of, run_first, run_count, run_bytes, run_plain)
            continue
        tag = (fam[i] << 32) | ((vlan[i] + 1) << 16)
        key = (tag | ports[i, 0], addr[i, 0], addr[i, 1], addr[i, 2], addr[i, 3], ports[i, 1])
        if (flags[i] & FLAG_CONTROL) != 0:
            rkey = (tag | ports[i, 1], addr[i, 2], addr[i, 3], addr[i, 0], addr[i, 1], ports[i, 0])
            if key in open_run:
                del open_run[key]
            if rkey in open_run:
                del open_run[rkey]
            nruns = _open_run(i, nruns, 0, False, run_of, run_first, run_count, run_bytes, run_plain)
            continue
        r = open_run[key] if key in open_run else -1
        if r >= 0 and seq[i] == expect[key]:
            run_of[i] = r
            run_count[r] += 1
            run_bytes[r] += plen[i]
            expect[key] = (seq[i] + plen[i]) & 0xFFFFFFFF
            continue
        open_run[key] = nruns
        expect[key] = (seq[i] + plen[i]) & 0xFFFFFFFF
        nruns = _open_run(i, nruns, plen[i], True, run_of, run_first, run_count, run_bytes, run_plain)
    return nruns


@njit(cache=True, nogil=True)
def gather(buf, n, run_of, run_plain, poff, plen, run_start, out, run_last, wire, cap, origlen, caplen):
    """Copy every plain run's payload into `out` at the run's start; note each run's last packet and sizes."""
    fill = run_start.copy()
    for i in range(n):
        r = run_of[i]
        if r < 0:
            continue
        p = poff[i]
        m = plen[i]
        if m > 0 and run_plain[r]:
            f = fill[r]
            out[f:f + m] = buf[p:p + m]
            fill[r] = f + m
        run_last[r] = i
        wire[r] += origlen[i]
        cap[r] += caplen[i]
