"""Helpers for bench/tracking.sh (SQLite).

  tracking_seed.py DB N OUT_DIR   N people who agreed to tracking, each sent campaign 1 with
                                  tracking; writes OUT_DIR/opens and OUT_DIR/clicks, one signed
                                  path per delivery, signed as the server signs them (the
                                  purpose's key derived from the master key in server_keys)
  tracking_seed.py DB count       tracking events recorded
"""

import base64
import hashlib
import hmac
import sqlite3
import struct
import sys
import time


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(master, purpose, campaign, delivery, link, issued):
    """A campaign link token as candour_core::signer makes it: the numbers in base64, a dot,
    and a tag of no expiry and the first 16 bytes of the purpose key's MAC."""
    key = hmac.new(master, b"candour-signer-1\0" + purpose, hashlib.sha256).digest()
    body = b64(struct.pack(">qqHq", campaign, delivery, link, issued))
    header = b"\x00"
    mac = hmac.new(key, header + struct.pack(">Q", 0) + body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(header + mac[:16])}"


def main():
    db = sqlite3.connect(sys.argv[1])
    if sys.argv[2] == "count":
        print(db.execute("SELECT count(*) FROM tracking_events").fetchone()[0])
        return
    n, out = int(sys.argv[2]), sys.argv[3]
    t = int(time.time())
    db.executescript(
        f"""
        WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
        INSERT INTO people (email, name, source, created_at, updated_at)
        SELECT 'person' || i || '@example.org', '', 'staff', {t}, {t} FROM k;
        INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
        SELECT id, 'email-tracking', NULL, 1, {t}, 'preferences' FROM people;
        INSERT INTO campaigns (id, name, subject, body, purpose, state, links, created_at,
            updated_at, started_at, finished_at)
        VALUES (1, 'Bench', 'News', 'Read [this](https://www.example.org/news)', 'news', 'sent',
            '["https://www.example.org/news"]', {t}, {t}, {t}, {t});
        INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at,
            sent_at, tracked)
        SELECT 1, id, 'sent', {t - 3600}, {t - 3600}, {t - 3600}, 1 FROM people;
        """
    )
    db.commit()
    key = db.execute("SELECT key FROM server_keys WHERE name = 'signer'").fetchone()[0]
    ids = [r[0] for r in db.execute("SELECT id FROM deliveries ORDER BY id")]
    with open(f"{out}/opens", "w") as f:
        for d in ids:
            f.write(f"/t/o/{token(key, b'campaign-open', 1, d, 0, t - 3600)}\n")
    with open(f"{out}/clicks", "w") as f:
        for d in ids:
            f.write(f"/t/c/{token(key, b'campaign-click', 1, d, 0, t - 3600)}\n")


if __name__ == "__main__":
    main()
