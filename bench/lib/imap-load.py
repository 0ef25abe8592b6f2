#!/usr/bin/env python3
"""imap-load.py - the mailbox load of bench/imap.sh, pointed at any IMAP and POP3 server on loopback.

  python3 bench/lib/imap-load.py --imap 127.0.0.1:11993 --pop3 127.0.0.1:11995 --tls \\
      --user bench@example.test --password benchpass --corpus DIR --label dovecot [--runs 3]

The harness's imap-load.py (bench/harness) drives 1,000 equal messages through imaplib; this one
drives the corpus of imap-corpus.py (10,000 messages of real-mail sizes and structures) and asks
what issue 6 measures. Its client is a small one of its own over a raw (TLS) socket: it skips
literals by their length and counts responses without parsing them, so that on 2 shared cores the
client's own work (imaplib splits every line and copies every literal) does not hide the servers'.

Tests, in this order (each bounded by its count and by --timeout seconds; one client, one command
at a time, as a mail client does):
  append          APPEND every corpus message to INBOX, one after another, each with its date as
                  INTERNALDATE (LITERAL+ when the server offers it); the clock runs from the first
                  APPEND to the last OK. Durable on both sides (see bench/imap.sh). Runs once: it
                  fills the mailbox the other tests read. Skipped if INBOX already holds them.
  fetch-struct    FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)
  fetch-bodies    FETCH of 1,000 whole messages spread over the mailbox (every 10th:
                  5,15,...,9995 for 10,000): BODY.PEEK[]
  search-header   SEARCH FROM "Ottoline", then SEARCH SUBJECT "quarterly" (timed together)
  search-body     SEARCH BODY "zeppelin" (no index on either side: every message is read)
  pop3-retr       POP3: USER/PASS, STAT, RETR 1..n one after another (no DELE), QUIT
Each read test logs in, EXAMINEs INBOX, then times only its command(s); --warmup untimed runs
come first (default 1: Dovecot fills its index cache on first use, Postern has no cache; both are
measured warm). Prints per-run lines and one RESULT line per test with the median and what the
server returned (FETCH responses, search hits, bytes), so the two servers' answers can be compared.
"""
import argparse
import os
import re
import socket
import ssl
import statistics
import sys
import time

LOOPBACK = re.compile(r"^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
CHUNK = 1 << 20


def hostport(s):
    m = re.match(r"^([^:]+):(\d+)$", s)
    if not m:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {s!r}")
    host, port = m.group(1), int(m.group(2))
    lm = LOOPBACK.match(host)
    if not (host == "localhost" or (lm and all(int(x) < 256 for x in lm.groups()))):
        raise argparse.ArgumentTypeError(f"refusing non-loopback target {host!r}")
    return host, port


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def check(self):
        if time.monotonic() > self.end:
            raise TimeoutError(f"run exceeded {self.seconds}s")


class Conn:
    """A socket with a receive buffer; `tls` wraps it (certificates are not checked: loopback, self-signed)."""

    def __init__(self, hp, tls, io_timeout):
        s = socket.create_connection(hp, timeout=io_timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        self.sock = s
        self.buf = bytearray()
        self.chunk = bytearray(CHUNK)
        self.view = memoryview(self.chunk)
        self.received = 0

    def cipher(self):
        c = getattr(self.sock, "cipher", None)
        return "plain" if c is None else f"{c()[1]} {c()[0]}"

    def fill(self):
        n = self.sock.recv_into(self.chunk, CHUNK)
        if n == 0:
            raise ConnectionError("connection closed by the server")
        self.buf += self.view[:n]
        self.received += n

    def line(self):
        """One CRLF-terminated line (without CRLF), consumed."""
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            self.fill()

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Imap:
    def __init__(self, a):
        self.c = Conn(a.imap, a.tls, a.io_timeout)
        self.n = 0
        greeting = self.c.line()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"IMAP greeting: {greeting[:100]!r}")
        self.caps = set()
        m = re.search(rb"\[CAPABILITY ([^\]]*)\]", greeting)
        if m:
            self.caps = set(m.group(1).upper().split())

    def command(self, text, literal=None):
        """Sends a command (with one literal at its end, if given), reads to its tagged response.
        Returns (status line, untagged FETCH count, SEARCH hits or None)."""
        self.n += 1
        tag = b"b%d" % self.n
        if literal is None:
            self.c.send(tag + b" " + text + b"\r\n")
        elif b"LITERAL+" in self.caps:
            self.c.send(tag + b" " + text + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        else:
            self.c.send(tag + b" " + text + b" {%d}\r\n" % len(literal))
            ln = self.c.line()
            if not ln.startswith(b"+"):
                raise RuntimeError(f"expected a continuation, got {ln[:100]!r}")
            self.c.send(literal + b"\r\n")
        return self.response(tag)

    def response(self, tag):
        c = self.c
        buf = c.buf
        start = scan = 0
        fetches = 0
        hits = None
        prefix = tag + b" "
        while True:
            i = buf.find(b"\r\n", scan)
            if i < 0:
                if start > (8 << 20):  # keep the buffer small while a big FETCH streams in
                    del buf[:start]
                    scan -= start
                    start = 0
                c.fill()
                continue
            if i > start and buf[i - 1] == 0x7D:  # "}": a literal follows this line
                lb = buf.rfind(b"{", scan, i)
                digits = bytes(buf[lb + 1:i - 1]).rstrip(b"+") if lb >= 0 else b""
                if digits.isdigit():
                    need = i + 2 + int(digits)
                    while len(buf) < need:
                        c.fill()
                    scan = need
                    continue
            head = bytes(buf[start:min(i, start + 48)])
            if head.startswith(prefix):
                status = bytes(buf[start:i])
                del buf[:i + 2]
                if not status[len(prefix):].startswith(b"OK"):
                    raise RuntimeError(f"server said {status[:200]!r}")
                return status, fetches, hits
            if head.startswith(b"* "):
                if b" FETCH " in head:
                    fetches += 1
                elif head.startswith(b"* SEARCH"):
                    hits = len(bytes(buf[start:i]).split()) - 2
            start = scan = i + 2

    def login(self, user, password):
        q = lambda s: b'"' + s.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        self.command(b"LOGIN " + q(user) + b" " + q(password))
        # Capabilities can change after LOGIN (Postern lists them before; Dovecot in the OK).
        st, _, _ = self.command(b"CAPABILITY")

    def examine(self):
        st, _, _ = self.command(b"EXAMINE INBOX")
        return st

    def exists(self):
        self.n += 1
        tag = b"b%d" % self.n
        self.c.send(tag + b" STATUS INBOX (MESSAGES)\r\n")
        n = None
        while True:
            ln = self.c.line()
            m = re.match(rb"\* STATUS .*\(MESSAGES (\d+)\)", ln)
            if m:
                n = int(m.group(1))
            if ln.startswith(tag + b" "):
                if not ln[len(tag) + 1:].startswith(b"OK"):
                    raise RuntimeError(f"STATUS: {ln[:200]!r}")
                return n or 0

    def logout(self):
        try:
            self.command(b"LOGOUT")
        except (RuntimeError, ConnectionError, OSError):
            pass
        self.c.close()


def imap_session(a):
    m = Imap(a)
    m.login(a.user, a.password)
    return m


# ------------------------------------------------------------------------------------ corpus

def corpus(a):
    names = sorted(f for f in os.listdir(a.corpus) if f.endswith(".eml"))[:a.messages]
    if len(names) < a.messages:
        raise SystemExit(f"the corpus in {a.corpus} has {len(names)} < {a.messages} messages")
    with open(os.path.join(a.corpus, "dates.txt")) as f:
        dates = [int(x) for x in f.read().split()][:a.messages]
    return [os.path.join(a.corpus, n) for n in names], dates


MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def imap_date(t):
    tm = time.gmtime(t)
    return f'"{tm.tm_mday:02d}-{MONTHS[tm.tm_mon - 1]}-{tm.tm_year} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000"'.encode()


# ------------------------------------------------------------------------------------ tests

def t_append(a, run):
    paths, dates = corpus(a)
    m = imap_session(a)
    have = m.exists()
    if have >= a.messages:
        m.logout()
        return None
    if have > 0:
        raise RuntimeError(f"INBOX holds {have} messages, neither none nor the whole corpus: start from an empty account")
    # Read the corpus first: the clock measures the server, not this client's disk.
    datas = []
    for p in paths:
        with open(p, "rb") as f:
            datas.append(f.read())
    dl = Deadline(a.timeout)
    t0 = time.perf_counter()
    for data, t in zip(datas, dates):
        m.command(b"APPEND INBOX () " + imap_date(t), data)
        dl.check()
    dt = time.perf_counter() - t0
    m.logout()
    return dt, len(datas), f"bytes={sum(len(d) for d in datas)}"


def read_test(fn):
    def run(a, r):
        m = imap_session(a)
        st = m.examine()
        dl = Deadline(a.timeout)
        t0 = time.perf_counter()
        n, info = fn(a, m)
        dt = time.perf_counter() - t0
        dl.check()
        m.logout()
        return dt, n, info
    return run


def body_set(a):
    step = 10
    return list(range(step // 2, a.messages + 1, step))[:1000]


@read_test
def t_fetch_struct(a, m):
    before = m.c.received
    _, fetches, _ = m.command(b"FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
    if fetches != a.messages:
        raise RuntimeError(f"FETCH 1:* gave {fetches} responses, expected {a.messages}")
    return fetches, f"responses={fetches} bytes={m.c.received - before}"


@read_test
def t_fetch_bodies(a, m):
    seqs = body_set(a)
    before = m.c.received
    _, fetches, _ = m.command(b"FETCH " + ",".join(map(str, seqs)).encode() + b" (BODY.PEEK[])")
    if fetches != len(seqs):
        raise RuntimeError(f"FETCH gave {fetches} responses, expected {len(seqs)}")
    return fetches, f"responses={fetches} bytes={m.c.received - before}"


@read_test
def t_search_header(a, m):
    _, _, h1 = m.command(b'SEARCH FROM "Ottoline"')
    _, _, h2 = m.command(b'SEARCH SUBJECT "quarterly"')
    return 2, f"hits_from={h1} hits_subject={h2}"


@read_test
def t_search_body(a, m):
    _, _, h = m.command(b'SEARCH BODY "zeppelin"')
    return 1, f"hits={h}"


def t_pop3(a, run):
    c = Conn(a.pop3, a.tls, a.io_timeout)

    def cmd(text):
        c.send(text + b"\r\n")
        ln = c.line()
        if not ln.startswith(b"+OK"):
            raise RuntimeError(f"POP3 {text.split()[0]!r}: {ln[:200]!r}")
        return ln

    if not c.line().startswith(b"+OK"):
        raise RuntimeError("POP3 greeting")
    cmd(b"USER " + a.user.encode())
    cmd(b"PASS " + a.password.encode())
    count = int(cmd(b"STAT").split()[1])
    if count < a.messages:
        raise RuntimeError(f"POP3 maildrop holds {count} < {a.messages} messages")
    dl = Deadline(a.timeout)
    t0 = time.perf_counter()
    before = c.received
    buf = c.buf
    for i in range(1, a.messages + 1):
        c.send(b"RETR %d\r\n" % i)
        while True:
            j = buf.find(b"\r\n")
            if j >= 0:
                break
            c.fill()
        if not buf.startswith(b"+OK"):
            raise RuntimeError(f"RETR {i}: {bytes(buf[:200])!r}")
        scan = j
        while True:
            k = buf.find(b"\r\n.\r\n", scan)
            if k >= 0:
                del buf[:k + 5]
                break
            scan = max(j, len(buf) - 4)
            c.fill()
        if i % 100 == 0:
            dl.check()
    dt = time.perf_counter() - t0
    got = c.received - before
    cmd(b"QUIT")
    c.close()
    return dt, a.messages, f"bytes={got}"


TESTS = {
    "append": ("imap", t_append),
    "fetch-struct": ("imap", t_fetch_struct),
    "fetch-bodies": ("imap", t_fetch_bodies),
    "search-header": ("imap", t_search_header),
    "search-body": ("imap", t_search_body),
    "pop3-retr": ("pop3", t_pop3),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--imap", type=hostport)
    ap.add_argument("--pop3", type=hostport)
    ap.add_argument("--tls", action="store_true", help="implicit TLS on both (IMAPS, POP3S)")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run")
    ap.add_argument("--io-timeout", type=float, default=120, help="socket timeout")
    a = ap.parse_args()
    if not (1 <= a.runs <= 20 and 0 <= a.warmup <= 5 and 1 <= a.messages <= 100000 and 0 < a.timeout <= 3600):
        ap.error("bounds: runs 1..20, warmup 0..5, messages 1..100000, timeout <= 3600")
    socket.setdefaulttimeout(a.io_timeout)
    failed = 0
    for t in (t for t in a.tests.split(",") if t):
        if t not in TESTS:
            ap.error(f"unknown test {t!r}; known: {', '.join(TESTS)}")
        proto, fn = TESTS[t]
        if getattr(a, proto) is None:
            log(f"{a.label} {t}: skipped, no --{proto} server")
            continue
        secs, info, n = [], "", 0
        runs = 1 if t == "append" else a.runs
        warm = 0 if t == "append" else a.warmup
        for r in range(1 - warm, runs + 1):
            try:
                res = fn(a, r)
            except Exception as e:  # report and go on
                log(f"{a.label} {t} run {r}: FAILED: {type(e).__name__}: {e}")
                failed += 1
                continue
            if res is None:
                log(f"{a.label} {t}: INBOX already holds the corpus; not timed")
                break
            dt, n, info = res
            kind = "warm-up" if r <= 0 else f"run {r}"
            log(f"{a.label} {t} {kind}: {n} ops in {dt:.3f}s ({info})")
            if r > 0:
                secs.append(dt)
        if secs:
            med = statistics.median(secs)
            sp = 100 * (max(secs) - min(secs)) / (2 * med) if med > 0 else 0
            print(f"RESULT imap {a.label:<10} {t:<14} ops={n} runs={len(secs)}/{runs} median_s={med:.4f} "
                  f"ops_per_s={n / med:.1f} spread={min(secs):.4f}..{max(secs):.4f}s(+-{sp:.0f}%) {info}", flush=True)
        elif t != "append" or failed:
            print(f"RESULT imap {a.label:<10} {t:<14} runs=0/{runs} FAILED", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
