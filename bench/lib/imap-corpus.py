#!/usr/bin/env python3
"""imap-corpus.py - the fixed mailbox corpus of bench/imap.sh: N messages from a seeded generator.

  python3 bench/lib/imap-corpus.py --out DIR [--messages 10000] [--seed 6]

Writes DIR/000001.eml ... (CRLF line ends, 7-bit or 8-bit-free, every line under 998 octets) and
DIR/manifest.txt (count, seed, total bytes, size quantiles, the mix of structures, and how many
messages each of the load's searches should match). The same seed and count always give the same
bytes, so Postern and Dovecot are loaded with the same mail, run after run.

Sizes follow real mail roughly: a log-normal body size (median about 6 KiB) clamped to
2 KiB..100 KiB, plus 1% larger messages (100 KiB..1 MiB, log-uniform, all with attachments). Structures:
  55% text/plain (some quoted-printable), 22% multipart/alternative (text + HTML),
  18% multipart/mixed (text or alternative + 1-3 base64 attachments),
   3% multipart/mixed with a forwarded message/rfc822 (nested ENVELOPE and BODYSTRUCTURE),
   2% multipart/related (HTML + inline image).
Headers look like delivered mail: 2-5 Received lines, DKIM-Signature, Authentication-Results,
Message-ID, References on replies, a display name on most addresses, some encoded-words.

The searches of the load (see imap-load.py), with a rate fixed by the generator:
  SEARCH FROM "Ottoline"       the sender "Ottoline Quayle" on about 1% of messages
  SEARCH SUBJECT "quarterly"   about 2% of subjects
  SEARCH BODY "zeppelin"       the word in the first text part of about 0.5% of messages
"""
import argparse
import base64
import math
import os
import random
import sys

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
    "you were her she there been one all we their has would when if so no will more can out about up what said "
    "who some into them time could only other then its over these may new two than first any like our also "
    "after should did most well where such very just years through much before between must many because "
    "meeting report project budget review schedule deadline customer contract proposal invoice payment "
    "update release server network database backup migration deployment testing quality support ticket "
    "agenda minutes summary forecast revenue quarter figures results analysis team office travel expense "
    "approval draft version feedback question answer request order shipment delivery account password "
    "security policy training conference presentation slides document attachment spreadsheet calendar"
).split()
FIRST = ("Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent "
         "Victor Walter Yasmin Zoe Amir Bea Chen Dmitri Elena Farid Greta Hiro Ines Jonas Kasia Lars Mina Nora "
         "Oskar Priya Quentin Rosa Sanjay Tove Ugo Vera Wen Xavier Yuki").split()
LAST = ("Smith Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas "
        "Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker "
        "Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell").split()
DOMAINS = ["example.org", "example.net", "corp.example", "mail.example.com", "lists.example.org",
           "shop.example", "bank.example", "news.example.net", "uni.example.edu", "cloud.example"]
SUBJECTS = ["Re: {w1} {w2}", "{w1} {w2} for next week", "Fwd: {w1} {w2}", "Your {w1} #{n}",
            "[{list}] {w1} {w2} {w3}", "Invitation: {w1} meeting", "{w1} {w2} ({n})", "Re: Re: {w1}",
            "Weekly {w1} digest", "Action needed: {w1} {w2}"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
SEARCH_FROM, SEARCH_SUBJECT, SEARCH_BODY = "Ottoline", "quarterly", "zeppelin"


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def words(self, n):
        r = self.r
        return " ".join(r.choice(WORDS) for _ in range(n))

    def paragraph_lines(self, size, extra_word=None):
        """Text of about `size` bytes as lines of at most 76 characters, CRLF ends."""
        r = self.r
        lines, n, para = [], 0, 0
        planted = extra_word is None
        while n < size:
            line_words = []
            length = 0
            target = r.randint(50, 76)
            while length < target:
                w = r.choice(WORDS)
                if not planted and r.random() < 0.02:
                    w, planted = extra_word, True
                line_words.append(w)
                length += len(w) + 1
            line = " ".join(line_words)[:76].rstrip()
            if para == 0:
                line = line[:1].upper() + line[1:]
            lines.append(line)
            n += len(line) + 2
            para += 1
            if para > r.randint(3, 8):
                lines.append("")
                n += 2
                para = 0
        if not planted:
            lines.append(extra_word + " " + self.words(6))
        return "\r\n".join(lines) + "\r\n"

    def person(self):
        r = self.r
        f, l = r.choice(FIRST), r.choice(LAST)
        return f, l, f"{f.lower()}.{l.lower()}@{r.choice(DOMAINS)}"

    def address(self, who=None):
        r = self.r
        f, l, a = who or self.person()
        x = r.random()
        if x < 0.15:
            return f"<{a}>" if r.random() < 0.5 else a
        if x < 0.22:  # RFC 2047 encoded-word display names
            name = base64.b64encode(f"{f} {l}".encode()).decode()
            return f"=?UTF-8?B?{name}?= <{a}>"
        if x < 0.30:
            return f'"{l}, {f}" <{a}>'
        return f"{f} {l} <{a}>"

    def date(self, i, n):
        # Spread over two years, in order of arrival, with a jitter.
        t = 1_672_531_200 + int(i * (63_072_000 / max(n, 1))) + self.r.randint(0, 3600)
        import time as _t
        tm = _t.gmtime(t)
        return f"{DAYS[tm.tm_wday]}, {tm.tm_mday:02d} {MONTHS[tm.tm_mon - 1]} {tm.tm_year} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000", t

    def body_size(self):
        r = self.r
        s = int(math.exp(r.gauss(math.log(6000), 0.9)))
        return min(max(s, 2048), 100 * 1024)

    def headers(self, i, n, sender, subject, extra):
        r = self.r
        date, t = self.date(i, n)
        h = []
        for k in range(r.randint(2, 5)):
            host = f"mx{r.randint(1, 9)}.{r.choice(DOMAINS)}"
            h.append(f"Received: from {host} ({host} [192.0.2.{r.randint(1, 254)}])\r\n"
                     f"\tby mx.example.test (Postfix) with ESMTPS id {r.getrandbits(40):010X}\r\n"
                     f"\tfor <bench@example.test>; {date}")
        h.append(f"Authentication-Results: mx.example.test; dkim=pass header.d={sender[2].split('@')[1]};\r\n"
                 f"\tspf=pass smtp.mailfrom={sender[2]}; dmarc=pass")
        sig = base64.b64encode(r.randbytes(180)).decode()
        h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + sender[2].split("@")[1]
                 + "; s=sel1;\r\n\th=from:to:subject:date:message-id; bh="
                 + base64.b64encode(r.randbytes(32)).decode() + ";\r\n\tb=" + sig[:70] + "\r\n\t " + sig[70:140]
                 + "\r\n\t " + sig[140:])
        h.append(f"From: {self.address(sender)}")
        to = [self.address(("Bench", "User", "bench@example.test"))]
        to += [self.address() for _ in range(r.choice([0, 0, 0, 1, 2, 4]))]
        h.append("To: " + ",\r\n\t".join(to))
        if r.random() < 0.25:
            h.append("Cc: " + ", ".join(self.address() for _ in range(r.randint(1, 3))))
        if r.random() < 0.05:
            h.append(f"Reply-To: {self.address()}")
        h.append(f"Subject: {subject}")
        h.append(f"Date: {date}")
        h.append(f"Message-ID: <{r.getrandbits(64):016x}.{i}@{sender[2].split('@')[1]}>")
        if subject.startswith("Re:"):
            ref = f"<{r.getrandbits(64):016x}@{r.choice(DOMAINS)}>"
            h.append(f"In-Reply-To: {ref}")
            h.append(f"References: {ref}")
        h.append("MIME-Version: 1.0")
        if r.random() < 0.3:
            h.append(f"List-Id: <team-{r.randint(1, 20)}.lists.example.org>")
        h.extend(extra)
        return "\r\n".join(h) + "\r\n", t

    def text_part(self, size, planted, qp=False):
        text = self.paragraph_lines(size, planted)
        if qp:
            # A little quoted-printable, as mail clients write it (soft breaks are not needed: lines are short).
            text = text.replace(" the ", " th=65 ", 3)
            return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + text
        return "Content-Type: text/plain; charset=us-ascii; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + text

    def html_part(self, size):
        r = self.r
        paras = []
        n = 0
        while n < size:
            p = "<p>" + self.words(r.randint(20, 60)) + "</p>"
            paras.append(p)
            n += len(p) + 2
        html = "<html><head><meta charset=\"utf-8\"></head><body>\r\n" + "\r\n".join(paras) + "\r\n</body></html>\r\n"
        # keep lines short
        out = []
        for line in html.split("\r\n"):
            while len(line) > 76:
                cut = line.rfind(" ", 0, 76)
                cut = cut if cut > 0 else 76
                out.append(line[:cut])
                line = line[cut:]
            out.append(line)
        return "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + "\r\n".join(out)

    def attachment(self, size):
        r = self.r
        kind = r.choice([("application/pdf", "pdf"), ("image/png", "png"), ("image/jpeg", "jpg"),
                         ("application/zip", "zip"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")])
        raw = r.randbytes(max(256, size * 3 // 4))
        b = base64.b64encode(raw).decode()
        lines = "\r\n".join(b[k:k + 76] for k in range(0, len(b), 76))
        name = f"{r.choice(WORDS)}-{r.randint(1, 999)}.{kind[1]}"
        return (f"Content-Type: {kind[0]}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{lines}\r\n"), kind[0]

    def multipart(self, subtype, parts):
        boundary = f"----=_Part_{self.r.getrandbits(48):012x}"
        body = "This is a multi-part message in MIME format.\r\n"
        for p in parts:
            body += f"\r\n--{boundary}\r\n{p}"
            if not p.endswith("\r\n"):
                body += "\r\n"
        body += f"\r\n--{boundary}--\r\n"
        return f'Content-Type: multipart/{subtype}; boundary="{boundary}"', body

    def message(self, i, n):
        r = self.r
        sender = (("Ottoline", "Quayle", "ottoline.quayle@example.org") if r.random() < 0.01 else self.person())
        subject = r.choice(SUBJECTS).format(w1=r.choice(WORDS), w2=r.choice(WORDS), w3=r.choice(WORDS),
                                            n=r.randint(1000, 99999), list=f"team-{r.randint(1, 20)}")
        if r.random() < 0.02:
            subject = f"The {SEARCH_SUBJECT} {r.choice(WORDS)} report"
        if r.random() < 0.08:  # an encoded subject, as non-ASCII mail has
            subject = "=?UTF-8?Q?" + subject.replace(" ", "_") + "?="
        planted = SEARCH_BODY if r.random() < 0.005 else None
        large = r.random() < 0.01
        # log-uniform over 100 KiB..1 MiB: most large mail is a few hundred KiB
        size = int(math.exp(r.uniform(math.log(100 * 1024), math.log(1024 * 1024)))) if large else self.body_size()
        x = r.random()
        kind = "text/plain"
        if large or 0.55 + 0.22 <= x < 0.95:
            text_size = min(size // 4, r.randint(1000, 8000))
            first = (self.text_part(text_size, planted) if r.random() < 0.5 else
                     "{}\r\n\r\n{}".format(*self.multipart("alternative", [self.text_part(text_size, planted),
                                                                         self.html_part(text_size * 2)])))
            rest = max(size - text_size * 3, 1024)
            parts = [first]
            for k in range(r.randint(1, 3) if not large else r.randint(1, 2)):
                parts.append(self.attachment(rest // (k + 1))[0])
            ctype, body = self.multipart("mixed", parts)
            kind = "multipart/mixed"
        elif x < 0.55:
            part = self.text_part(size, planted, qp=r.random() < 0.15)
            hdr, _, body = part.partition("\r\n\r\n")
            ctype = hdr
        elif x < 0.55 + 0.22:
            ctype, body = self.multipart("alternative", [self.text_part(size // 3, planted), self.html_part(size * 2 // 3)])
            kind = "multipart/alternative"
        elif x < 0.98:
            # A forwarded message: nested ENVELOPE and BODYSTRUCTURE.
            inner_sender = self.person()
            inner_hdr, _ = self.headers(i, n, inner_sender, "Original: " + self.words(3), [])
            inner_ctype, inner_body = self.multipart("alternative", [self.text_part(size // 3, None), self.html_part(size // 3)])
            inner = inner_hdr + inner_ctype + "\r\n\r\n" + inner_body
            ctype, body = self.multipart("mixed", [self.text_part(800, planted),
                                                   "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + inner])
            kind = "message/rfc822"
        else:
            img = self.attachment(r.randint(4000, 30000))[0].replace("Content-Disposition: attachment", "Content-ID: <img1@x>\r\nContent-Disposition: inline")
            html = self.html_part(size // 2)
            if planted:
                html = html.replace("<p>", f"<p>{planted} ", 1)
            ctype, body = self.multipart("related", [html, img])
            kind = "multipart/related"
        hdr, t = self.headers(i, n, sender, subject, [ctype])
        data = (hdr + "\r\n" + body).encode("ascii")
        return data, kind, sender[0] == "Ottoline", SEARCH_SUBJECT in subject and not subject.startswith("=?"), planted is not None, t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=6)
    a = ap.parse_args()
    if not 1 <= a.messages <= 100000:
        ap.error("--messages 1..100000")
    os.makedirs(a.out, exist_ok=True)
    g = Gen(a.seed)
    sizes, kinds = [], {}
    hits = {"from": 0, "subject": 0, "body": 0}
    with open(os.path.join(a.out, "dates.txt"), "w") as dates:
        for i in range(1, a.messages + 1):
            data, kind, f, s, b, t = g.message(i, a.messages)
            with open(os.path.join(a.out, f"{i:06d}.eml"), "wb") as fh:
                fh.write(data)
            dates.write(f"{t}\n")
            sizes.append(len(data))
            kinds[kind] = kinds.get(kind, 0) + 1
            hits["from"] += f
            hits["subject"] += s
            hits["body"] += b
    ss = sorted(sizes)
    q = lambda p: ss[min(len(ss) - 1, int(p * len(ss)))]
    with open(os.path.join(a.out, "manifest.txt"), "w") as m:
        m.write(f"messages={a.messages} seed={a.seed} bytes={sum(sizes)} mean={sum(sizes) // len(sizes)} "
                f"min={ss[0]} p50={q(0.5)} p90={q(0.9)} p99={q(0.99)} max={ss[-1]}\n")
        m.write("structures=" + ",".join(f"{k}:{v}" for k, v in sorted(kinds.items())) + "\n")
        m.write(f"planted from={hits['from']} subject={hits['subject']} body={hits['body']}\n")
    sys.stdout.write(open(os.path.join(a.out, "manifest.txt")).read())


if __name__ == "__main__":
    main()
