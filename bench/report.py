#!/usr/bin/env python3
"""One markdown table of everything bench/run measured, plus the targets.

usage: bench/report.py OUT_DIR
  reads OUT_DIR/startup.tsv, OUT_DIR/flows.jsonl (driver), OUT_DIR/notes.txt and
  the shared harness's OUT_DIR/harness/{raw,openssl,rss,meta}.tsv.

A measurement is "disturbed" when other processes on the machine used more than
FOREIGN_MAX % of one core (default 15) or steal exceeded STEAL_MAX % (default 5),
as in the harness. Target checks use the undisturbed mean where one exists.
"""
import csv
import json
import os
import statistics
import sys

FOREIGN_MAX = float(os.environ.get("FOREIGN_MAX", 15))
STEAL_MAX = float(os.environ.get("STEAL_MAX", 5))
MiB = 1024.0

out = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
H = os.path.join(out, "harness")


def tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def num(x):
    try:
        v = float(x)
        return None if v != v else v
    except (TypeError, ValueError):
        return None


def fmt(v, nd=0):
    return "n/a" if v is None else f"{v:,.{nd}f}"


def disturbed(foreign, steal):
    return (foreign is not None and foreign > FOREIGN_MAX) or (steal is not None and steal > STEAL_MAX)


startup = {r["key"]: r["value"] for r in tsv(os.path.join(out, "startup.tsv"))}
raw = tsv(os.path.join(H, "raw.tsv"))
ossl = tsv(os.path.join(H, "openssl.tsv"))
rss = {r["target"]: r for r in tsv(os.path.join(H, "rss.tsv"))}
meta = {r["key"]: r["value"] for r in tsv(os.path.join(H, "meta.tsv"))}
flows = []
if os.path.exists(os.path.join(out, "flows.jsonl")):
    for line in open(os.path.join(out, "flows.jsonl")):
        line = line.strip()
        if line.startswith("{"):
            flows.append(json.loads(line))
notes = []
if os.path.exists(os.path.join(out, "notes.txt")):
    notes = [n.strip() for n in open(os.path.join(out, "notes.txt")) if n.strip()]

rows = []  # dicts: workload server db mode rate p50 p99 cpu rss errors dist clean_rate n


def add(**kw):
    rows.append(kw)


# ---- openssl ---------------------------------------------------------------------
sign = {}
for r in ossl:
    if r["op"] == "RSA-2048 sign":
        sign[r["procs"]] = max(sign.get(r["procs"], 0), float(r["ops_per_s"]))
for procs in ("1", "2"):
    if procs in sign:
        fo = [num(r.get("foreign_cpu_pct")) for r in ossl if r["op"] == "RSA-2048 sign" and r["procs"] == procs]
        add(workload=f"RSA-2048 sign (`openssl speed`, {procs} process{'es' if procs == '2' else ''})",
            server="openssl", db="-", mode="pinned" if procs == "1" else "shared", rate=sign[procs],
            p50=None, p99=None, cpu=1000.0 / sign[procs] * (1 if procs == "1" else 2), rss=None, errors=None,
            n=len(fo), nd=sum(1 for x in fo if disturbed(x, None)), clean=None)

# ---- harness (wrk) ---------------------------------------------------------------
EP_LABEL = {
    "token": "(a) client_credentials token",
    "introspect": "(e) introspection",
    "jwks": "(d) JWKS",
    "discovery": "(d) discovery",
}
groups = {}
for r in raw:
    groups.setdefault((r["target"], r["endpoint"], r["mode"]), []).append(r)
order_t = {"latchkey": 0, "peer": 1, "peer-2w": 2, "nginx-static": 3}
order_e = {"token": 0, "introspect": 1, "jwks": 2, "discovery": 3}
order_m = {"shared": 0, "pinned": 1}
H_MEAN = {}
for (t, e, m) in sorted(groups, key=lambda k: (order_e.get(k[1], 9), order_m.get(k[2], 9), order_t.get(k[0], 5))):
    rs = groups[(t, e, m)]
    rps = [float(r["rps"]) for r in rs]
    dist = [disturbed(num(r["foreign_cpu_pct"]), num(r.get("steal_pct"))) for r in rs]
    clean = [x for x, d in zip(rps, dist) if not d]
    cpu = [num(r["server_cpu_pct"]) / 100 / float(r["rps"]) * 1000 for r in rs
           if num(r["server_cpu_pct"]) is not None and float(r["rps"]) > 0]
    errs = sum(int(r["non2xx"]) + int(r["sock_errors"]) for r in rs)
    if e == "introspect":
        checks = [r.get("check", "") for r in rs]
    rk = rss.get(t, {})
    db = "SQLite" if t == "latchkey" else ("in-memory" if t.startswith("peer") else "static files")
    if t == "peer" and e == "introspect":
        db = "in-memory (opaque token)"
    add(workload=EP_LABEL.get(e, e), server=t, db=db, mode=m, rate=statistics.mean(rps),
        p50=statistics.median(float(r["p50_ms"]) for r in rs), p99=statistics.median(float(r["p99_ms"]) for r in rs),
        cpu=statistics.mean(cpu) if cpu else None, rss=num(rk.get("rss_load_max_kb")), errors=errs,
        n=len(rs), nd=sum(dist), clean=statistics.mean(clean) if clean else None)
    H_MEAN[(t, e, m)] = (statistics.mean(clean) if clean else statistics.mean(rps), bool(clean))

# ---- driver ------------------------------------------------------------------------
W_LABEL = {
    "code": "(b) code flow, session + remembered consent (flows/s)",
    "refresh": "(c) refresh-token rotation",
    "userinfo": "(f) UserInfo",
    "login": "password sign-in, no session (Argon2id; sign-ins/s)",
}
fgroups = {}
for f in flows:
    backend, mode = (f.get("label", "?/?").split("/") + ["?", "?"])[:2]
    fgroups.setdefault((f["workload"], backend, mode), []).append(f)
F_MEAN = {}
for (w, b, m) in sorted(fgroups, key=lambda k: ({"code": 0, "refresh": 1, "userinfo": 2, "login": 3}.get(k[0], 9),
                                                 k[1] != "sqlite", order_m.get(k[2], 9))):
    fs = fgroups[(w, b, m)]
    rate = [float(f["ops_per_s"]) for f in fs]
    dist = [disturbed(num(f.get("foreign_cpu_pct")), num(f.get("steal_pct"))) for f in fs]
    clean = [x for x, d in zip(rate, dist) if not d]
    cpu = [num(f.get("server_cpu_ms_per_op")) for f in fs if num(f.get("server_cpu_ms_per_op")) is not None]
    dbcpu = [num(f.get("db_cpu_ms_per_op")) for f in fs if num(f.get("db_cpu_ms_per_op")) is not None]
    label = W_LABEL.get(w, w)
    if fs[0].get("session_per_worker"):
        label += ", one session per worker"
    add(workload=label, server="latchkey", db={"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(b, b), mode=m,
        rate=statistics.mean(rate), p50=statistics.median(float(f["p50_ms"]) for f in fs if f["p50_ms"] is not None)
        if any(f["p50_ms"] is not None for f in fs) else None,
        p99=statistics.median(float(f["p99_ms"]) for f in fs if f["p99_ms"] is not None)
        if any(f["p99_ms"] is not None for f in fs) else None,
        cpu=statistics.mean(cpu) if cpu else None, dbcpu=statistics.mean(dbcpu) if dbcpu else None,
        rss=max(float(f["server_rss_peak_kb"]) for f in fs), errors=sum(int(f["errors"]) for f in fs),
        n=len(fs), nd=sum(dist), clean=statistics.mean(clean) if clean else None,
        req=statistics.mean(float(f["req_per_s"]) for f in fs))
    F_MEAN[(w, b, m)] = (statistics.mean(clean) if clean else statistics.mean(rate), bool(clean))

# ---- startup -----------------------------------------------------------------------
restarts = [float(v) for k, v in startup.items() if k.startswith("ready_ms_restart_") and v != "fail"]
idle = [float(v) for k, v in startup.items() if k.startswith("rss_idle_kb_restart_")]
if "ready_ms_empty_db" in startup:
    add(workload="startup to ready, empty SQLite DB (migrations + 2 RSA keys)", server="latchkey", db="SQLite",
        mode="-", rate=None, p50=num(startup["ready_ms_empty_db"]), p99=None, cpu=None,
        rss=num(startup.get("rss_idle_kb_empty_db")), errors=None, n=1, nd=0, clean=None, unit="ms")
if restarts:
    add(workload="startup to ready, existing SQLite DB (median of %d)" % len(restarts), server="latchkey",
        db="SQLite", mode="-", rate=None, p50=statistics.median(restarts), p99=max(restarts), cpu=None,
        rss=statistics.median(idle) if idle else None, errors=None, n=len(restarts), nd=0, clean=None, unit="ms")
if "ready_ms_postgres" in startup:
    add(workload="startup to ready, PostgreSQL (first start)", server="latchkey", db="PostgreSQL", mode="-",
        rate=None, p50=num(startup["ready_ms_postgres"]), p99=None, cpu=None,
        rss=num(startup.get("rss_idle_kb_postgres")), errors=None, n=1, nd=0, clean=None, unit="ms")

# ---- print ---------------------------------------------------------------------------
p = print
p("# Latchkey benchmark results")
p("")
for k in ("date", "machine", "load", "openssl", "peer", "nginx", "loadavg at start", "loadavg at end"):
    if k in meta:
        p(f"- {k}: {meta[k]}")
for k in ("git", "loadavg_start", "loadavg_end"):
    if k in startup:
        p(f"- bench/run {k.replace('_', ' ')}: {startup[k]}")
if flows:
    f0 = flows[0]
    p(f"- driver: {f0['concurrency']} workers, {f0['threads']} threads, {f0['warmup_s']} s warm-up + "
      f"{f0['duration_s']} s per run (closed loop, like wrk -c{f0['concurrency']})")
p("")
p("Rate = mean req/s over all runs (flows/s for the code flow; one flow = 2 requests). Latency: median "
  "of the runs' p50/p99 (for startup rows: p50 column = time to ready, p99 column = worst). "
  "Server CPU = (utime+stime) / operations; for PostgreSQL + the database server's CPU. "
  "RSS: max VmRSS sampled under load (startup rows: idle VmRSS). Disturbed = runs in which other "
  f"processes used > {FOREIGN_MAX:.0f}% of a core (or steal > {STEAL_MAX:.0f}%); their undisturbed mean follows.")
p("")
p("| workload | server | storage | mode | rate /s | p50 ms | p99 ms | server CPU ms/op | RSS MiB | errors | disturbed runs |")
p("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    cpu = fmt(r["cpu"], 3)
    if r.get("dbcpu") is not None:
        cpu += f" + db {r['dbcpu']:.3f}"
    rate = fmt(r["rate"])
    if r.get("req") and (r["workload"].startswith("(b)") or r["workload"].startswith("password")):
        rate += f" ({r['req']:,.0f} req/s)"
    dist = f"{r['nd']}/{r['n']}" if r["n"] else "-"
    if r["nd"] and r["clean"] is not None:
        dist += f" (undisturbed: {r['clean']:,.0f})"
    elif r["nd"] and r["rate"] is not None:
        dist += " (all disturbed)"
    p(f"| {r['workload']} | {r['server']} | {r['db']} | {r['mode']} | {rate} | {fmt(r['p50'], 2)} | "
      f"{fmt(r['p99'], 2)} | {cpu} | {fmt(r['rss'] / MiB if r['rss'] is not None else None, 1)} | "
      f"{'-' if r['errors'] is None else r['errors']} | {dist} |")
p("")

# ---- targets -----------------------------------------------------------------------------
T = []


def target(name, value, need, ok, how=""):
    T.append((name, value, need, "met" if ok else "**MISSED**", how))


def hm(t, e, m):
    return H_MEAN.get((t, e, m), (None, False))[0]


def fm(w, b, m):
    return F_MEAN.get((w, b, m), (None, False))[0]


s1, s2 = sign.get("1"), sign.get("2")
tp, ts = hm("latchkey", "token", "pinned"), hm("latchkey", "token", "shared")
pp, ps = hm("peer", "token", "pinned"), hm("peer", "token", "shared")
if tp and s1:
    target("(a) token, pinned, vs 1-core RSA-2048 sign", f"{tp:,.0f} / {s1:,.0f} = {tp / s1:.0%}", ">= 90%",
           tp / s1 >= 0.9)
if ts and s2:
    target("(a) token, shared, vs 2-core RSA-2048 sign", f"{ts:,.0f} / {s2:,.0f} = {ts / s2:.0%}", ">= 80%",
           ts / s2 >= 0.8)
if tp and pp:
    target("(a) token, pinned, vs node-oidc-provider", f"{tp:,.0f} / {pp:,.0f} = {tp / pp:.2f}x", ">= 1.75x",
           tp / pp >= 1.75)
if ts and ps:
    target("(a) token, shared, vs node-oidc-provider", f"{ts:,.0f} / {ps:,.0f} = {ts / ps:.2f}x", ">= 1.75x",
           ts / ps >= 1.75)
for m in ("shared", "pinned"):
    v = fm("code", "sqlite", m)
    if v is not None:
        target(f"(b) code flows/s on SQLite, {m}", f"{v:,.0f}", ">= 600", v >= 600)
for e in ("jwks", "discovery"):
    for m in ("shared", "pinned"):
        a, b = hm("latchkey", e, m), hm("nginx-static", e, m)
        if a and b:
            target(f"(d) {e}, {m}, vs nginx", f"{a:,.0f} / {b:,.0f} = {a / b:.0%}", ">= 80%", a / b >= 0.8)
for m in ("shared", "pinned"):
    pi = hm("peer", "introspect", m)
    a = hm("latchkey", "introspect", m)
    if a and pi:
        target(f"(e) introspection, {m}, vs peer introspection", f"{a:,.0f} / {pi:,.0f} = {a / pi:.2f}x", ">= 5x",
               a / pi >= 5)
    for b in ("sqlite", "postgres"):
        u = fm("userinfo", b, m)
        if u and pi:
            target(f"(f) UserInfo ({b}), {m}, vs peer introspection", f"{u:,.0f} / {pi:,.0f} = {u / pi:.2f}x",
                   ">= 5x", u / pi >= 5)
idle_all = [num(startup[k]) for k in startup if k.startswith("rss_idle_kb_restart_")]
if idle_all:
    v = max(idle_all) / MiB
    target("RSS idle (existing SQLite DB, 2 s after ready)", f"{v:.1f} MiB", "<= 20 MiB", v <= 20)
load_rss = [num(rss["latchkey"]["rss_load_max_kb"])] if "latchkey" in rss else []
load_rss += [float(f["server_rss_peak_kb"]) for f in flows]
load_rss += [num(v) for k, v in startup.items() if k.startswith("vmhwm_kb_")]
load_rss = [x for x in load_rss if x]
if load_rss:
    v = max(load_rss) / MiB
    target("RSS under load (max of all Latchkey runs, incl. VmHWM)", f"{v:.1f} MiB", "<= 50 MiB", v <= 50)
if restarts:
    v = statistics.median(restarts)
    target("ready after start, existing SQLite DB (median)", f"{v:.0f} ms (worst {max(restarts):.0f})",
           "<= 200 ms", v <= 200)
if "ready_ms_empty_db" in startup and num(startup["ready_ms_empty_db"]) is not None:
    v = num(startup["ready_ms_empty_db"])
    target("ready after first start, empty SQLite DB", f"{v:.0f} ms", "<= 200 ms", v <= 200)
lk_err = sum(r["errors"] or 0 for r in rows if r["server"] == "latchkey")
if rows:
    target("no error responses (Latchkey, all runs)", f"{lk_err}", "0", lk_err == 0)

if T:
    p("## Targets")
    p("")
    p("Undisturbed means where available, else all runs.")
    p("")
    p("| target | measured | needed | result |")
    p("|---|---|---|---|")
    for name, value, need, res, _ in T:
        p(f"| {name} | {value} | {need} | {res} |")
    p("")

samples = [(f["label"], f["workload"], s) for f in flows for s in f.get("error_samples", [])]
if samples:
    p("## Error samples (driver)")
    p("")
    for label, w, s in samples[:12]:
        p(f"- {label} {w}: `{s[:240]}`")
    p("")
if notes:
    p("## Notes")
    p("")
    for n in notes:
        p(f"- {n}")
    p("")
