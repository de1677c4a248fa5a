"""Where mie's DICOM SCP spends its time per instance: an in-process harness, not a benchmark of record.

It opens a mie Runtime on a temporary data directory, registers the institution (AE title BENCHSCU), the
exam (§2.1 example) and the study (saveImgInfo) through the ASGI app in-process, starts
`mie.dicom.scp.StorageSCP` as the tests do, and has dcmtk's storescu (another process, TCP_NODELAY=1)
push a corpus built by bench/cstore_ingest.py. Nothing of mie is changed: the harness only wraps some of
its functions (and pynetdicom's) in timers, inside this process.

Modes:
  timers    (default) wall time and thread CPU time of each stage of the C-STORE handler, the sleeps of
            pynetdicom's reactors, and the rest of the process's CPU, each per instance;
  cprofile  cProfile in every thread started during the push (association and DUL threads), merged:
            the top functions by own time and a few chosen cumulative figures, per instance. cProfile
            makes Python code about twice as slow, so read its figures as proportions;
  none      no instrumentation: instances/s and process CPU per instance only.

Then, in every mode, association set-up: 20 associations (one Verification context, C-ECHO, release) from
a pynetdicom SCU to mie's SCP and to dcmtk's storescp, median milliseconds of each step (--no-associations
to skip). A modality that opens one association per image pays the set-up for every image.

Run:  .venv/bin/python bench/cstore_profile.py                          (both corpora, 1 and 4 associations)
      .venv/bin/python bench/cstore_profile.py --mode cprofile --corpus small --associations 1
      .venv/bin/python bench/cstore_profile.py --py-spy /path/to/py-spy   (also a py-spy sampling profile)
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import logging
import os
import pstats
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

warnings.filterwarnings("ignore", message=".*starlette.testclient.*")  # the harness's own use of TestClient

import cstore_ingest as bench  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import mie.service.ingest as ingest  # noqa: E402
import mie.store.files as files  # noqa: E402
from mie.config import Settings  # noqa: E402
from mie.dicom.scp import StorageSCP  # noqa: E402
from mie.runtime import Runtime  # noqa: E402
from mie.service.institutions import add_institution  # noqa: E402
from mie.web.app import create_app  # noqa: E402

# ------------------------------------------------------------------------------------------------ timers


class Stage:
    __slots__ = ("calls", "wall", "cpu")

    def __init__(self) -> None:
        self.calls, self.wall, self.cpu = 0, 0.0, 0.0


STAGES: dict[str, Stage] = collections.defaultdict(Stage)
_lock = threading.Lock()
_local = threading.local()


@contextmanager
def timed(name: str) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        with _lock:
            stage = STAGES[name]
            stage.calls += 1
            stage.wall += wall
            stage.cpu += cpu


MISSING: list[str] = []


def wrap(owner: Any, attribute: str, name: str) -> None:
    original = getattr(owner, attribute, None)
    if original is None:  # the code moved on: say so rather than fail
        MISSING.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{attribute}")
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with timed(name):
            return original(*args, **kwargs)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, attribute, wrapper)


class TimedLock:
    """Stands in for Database._writer_turn: the time spent waiting for SQLite's one writer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __enter__(self) -> Any:
        with timed("  wait for the writer lock (Database._writer_turn)"):
            return self.inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self.inner.__exit__(*exc)


def install_runtime_timers(runtime: Runtime) -> None:
    """Timers on what belongs to one runtime: its database's writer lock and its SQLite dialect."""
    wrap(runtime.database.engine.dialect, "do_commit", "    SQLite COMMIT")
    if hasattr(runtime.database, "_writer_turn"):
        runtime.database._writer_turn = TimedLock(runtime.database._writer_turn)
    else:
        MISSING.append("Database._writer_turn")


def install_timers() -> None:
    """Timers on classes and modules (once per process)."""
    import pynetdicom.dimse
    import pynetdicom.dsutils
    import pynetdicom.events

    wrap(StorageSCP, "handle_store", "C-STORE handler (mie, total)")
    wrap(ingest, "file_meta", "  file meta header (part10.file_meta)")
    wrap(files.FileStore, "spool_bytes", "  spool: write .part, MD5, fsync (FileStore.spool_bytes)")
    wrap(files.SpoolWriter, "finish", "    flush + fsync of the .part file")
    wrap(files.SpoolWriter, "__init__", "    create the .part file (open 'xb')")
    wrap(ingest, "header_of_received", "  header: part10.scan_header (pydicom for irregular data)")
    wrap(ingest, "_record", "  _record: transaction, checks, row, rename, commit")
    wrap(files.FileStore, "commit", "    rename into place + mkdir + dir fsync")
    wrap(files, "sync_directory", "      directory fsync")
    wrap(ingest.log, "info", "  log.info (disabled at WARNING)")
    wrap(pynetdicom.dimse.DIMSEServiceProvider, "send_msg", "send C-STORE-RSP (pynetdicom encode + queue)")
    wrap(pynetdicom.dimse.DIMSEServiceProvider, "receive_primitive", "receive P-DATA (pynetdicom DIMSE decode)")
    wrap(pynetdicom.dsutils, "decode", "  decode command set (dsutils.decode)")

    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        name = f"time.sleep({seconds:g}) in pynetdicom threads (wall only)"
        with timed(name):
            real_sleep(seconds)

    time.sleep = sleep  # pynetdicom calls time.sleep(...) through the module attribute


# ------------------------------------------------------------------------------------------------ harness


def open_processor(base: Path, study_uid: str, instances: int) -> tuple[Runtime, StorageSCP]:
    runtime = Runtime.open(Settings(data_dir=base / "data"))
    add_institution(runtime.database, bench.INSTITUTION, bench.KEY, ae_title=bench.CALLING_AE)
    client = TestClient(create_app(runtime))
    spec = bench.load_spec()
    exam = bench.example_body(spec)
    exam["msgid"] = bench.new_msgid()
    answer = client.post(bench.SAVE_EXAM, json=exam).json()
    assert answer["code"] == 0, answer
    info = {
        "infno": "saveImgInfo", "msgid": bench.new_msgid(), "infTime": "2025-11-11 10:10:00",
        "infCode": bench.INSTITUTION, "key": bench.KEY,
        "input": [{"hiImgIndx": exam["input"][0]["hiImgIndx"], "studyUid": study_uid,
                   "accessionNumber": bench.ACCESSION, "imageTotalNum": instances}],
    }  # fmt: skip
    answer = client.post(bench.SAVE_IMG_INFO, json=info).json()
    assert answer["code"] == 0, answer
    scp = StorageSCP(runtime, "127.0.0.1", 0, bench.CALLED_AE)
    scp.start()
    return runtime, scp


def push(corpus: bench.Corpus, port: int, associations: int, cfg: Path) -> float:
    groups = [corpus.quarters] if associations == 1 else [[q] for q in corpus.quarters]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                str(bench.DCMTK / "storescu"),
                "-aet",
                bench.CALLING_AE,
                "-aec",
                bench.CALLED_AE,
                "-xf",
                str(cfg),
                bench.PROFILE,
                "+sd",
                "127.0.0.1",
                str(port),
                *map(str, group),
            ],
            env=bench.DCMTK_ENV,
        )  # fmt: skip
        for group in groups
    ]
    codes = [p.wait() for p in processes]
    if any(codes):
        raise RuntimeError(f"storescu exit codes {codes}")
    return time.perf_counter() - started


def stored_rows(runtime: Runtime) -> int:
    with runtime.database.engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM instance").scalar() or 0)


def per_thread_profiles() -> tuple[list[cProfile.Profile], Callable[[], None]]:
    profiles: list[cProfile.Profile] = []

    def starter(*_: Any) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    threading.setprofile(starter)
    return profiles, lambda: threading.setprofile(None)  # type: ignore[arg-type]


def run_once(args: argparse.Namespace, corpus_name: str, associations: int, base: Path, cfg: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"profile-{corpus_name}-{associations}-", dir=base))
    study_uid = generate_uid()
    corpus = bench.build_corpus(corpus_name, work / "corpus", args.instances, study_uid)
    runtime, scp = open_processor(work, study_uid, args.instances)
    if args.mode == "timers":
        install_runtime_timers(runtime)
    STAGES.clear()
    profiles: list[cProfile.Profile] = []
    stop_profiling: Callable[[], None] = lambda: None  # noqa: E731
    if args.mode == "cprofile":
        profiles, stop_profiling = per_thread_profiles()
    spy = None
    if args.py_spy:
        flame = work / "py-spy.txt"
        spy = subprocess.Popen(
            [args.py_spy, "record", "--pid", str(os.getpid()), "--rate", "500", "--format", "raw", "--gil",
             "--output", str(flame), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = push(corpus, scp.port, associations, cfg)
    after = resource.getrusage(resource.RUSAGE_SELF)
    stop_profiling()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    time.sleep(0.2)
    scp.stop()
    rows = stored_rows(runtime)
    n = len(corpus.files)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"\n=== {corpus_name} corpus ({corpus.total_bytes / n / 1000:.0f} kB mean), {associations} association(s), "
          f"mode {args.mode}: {n / seconds:,.0f} instances/s, {seconds * 1000 / n:.2f} ms wall per instance, "
          f"process CPU {cpu * 1000 / n:.2f} ms per instance ({cpu / seconds:.0%} of one core; user "
          f"{(after.ru_utime - before.ru_utime) * 1000 / n:.2f} + system {(after.ru_stime - before.ru_stime) * 1000 / n:.2f} ms; "
          f"{(after.ru_nvcsw - before.ru_nvcsw) / n:.0f} voluntary + {(after.ru_nivcsw - before.ru_nivcsw) / n:.0f} "
          f"involuntary context switches per instance); rows stored {rows}/{n}")  # fmt: skip
    if args.mode == "timers":
        if MISSING:
            print(f"not timed (no longer in the code): {', '.join(MISSING)}")
        print(f"{'stage':<66} {'calls/inst':>10} {'wall ms/inst':>12} {'CPU ms/inst':>11}")
        handler_cpu = STAGES["C-STORE handler (mie, total)"].cpu
        for name, stage in list(STAGES.items()):
            print(f"{name:<66} {stage.calls / n:>10.2f} {stage.wall * 1000 / n:>12.3f} "
                  f"{stage.cpu * 1000 / n if 'sleep' not in name else float('nan'):>11.3f}")  # fmt: skip
        accounted = (
            handler_cpu
            + STAGES["send C-STORE-RSP (pynetdicom encode + queue)"].cpu
            + STAGES["receive P-DATA (pynetdicom DIMSE decode)"].cpu
        )
        print(f"{'process CPU outside the stages above (PDU reads, reactors, storescu-side waits excluded)':<66} "
              f"{'':>10} {'':>12} {(cpu - accounted) * 1000 / n:>11.3f}")  # fmt: skip
    if profiles:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        dump = work / "cprofile.pstats"
        stats.dump_stats(dump)
        kept = args.keep / f"cstore-{corpus_name}-{associations}.pstats" if args.keep else None
        if kept:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(dump, kept)
        print_cprofile(stats, n, args.top)
    if spy is not None:
        summarize_py_spy(work / "py-spy.txt", n, args.top)
    runtime.database.dispose()
    shutil.rmtree(work, ignore_errors=True)


CHOSEN = [
    ("pynetdicom/service_class.py", "SCP", "StorageServiceClass.SCP (whole C-STORE service)"),
    ("mie/dicom/scp.py", "handle_store", "mie handle_store"),
    ("mie/dicom/part10.py", "file_meta", "  part10.file_meta"),
    ("mie/store/files.py", "spool_bytes", "  FileStore.spool_bytes"),
    ("mie/service/ingest.py", "header_of_received", "  ingest.header_of_received (scan)"),
    ("mie/service/ingest.py", "_record", "  ingest._record"),
    ("mie/store/database.py", "unit_of_work", "    Database.unit_of_work (enter+exit)"),
    ("mie/store/files.py", "commit", "    FileStore.commit"),
    ("pynetdicom/dimse.py", "send_msg", "send_msg (C-STORE-RSP)"),
    ("pynetdicom/dimse.py", "receive_primitive", "receive_primitive (DIMSE)"),
    ("pynetdicom/dul.py", "_is_transport_event", "DUL _is_transport_event (socket reads)"),
    ("~", "<built-in method posix.fsync>", "os.fsync"),
    ("~", "<built-in method time.sleep>", "time.sleep (wall, all pynetdicom threads)"),
]


def print_cprofile(stats: pstats.Stats, n: int, top: int) -> None:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    print("cProfile, chosen functions (cumulative; ms per instance, cProfile-inflated):")
    for path_part, function, label in CHOSEN:
        total = sum(v[3] for (path, _line, name), v in raw.items() if path.endswith(path_part) and name == function)
        calls = sum(v[1] for (path, _line, name), v in raw.items() if path.endswith(path_part) and name == function)
        print(f"  {label:<52} {calls / n:>6.2f} calls/inst {total * 1000 / n:>8.3f} ms/inst")
    print(f"cProfile, top {top} by own time (time.sleep left out):")
    rows = sorted(((v[2], v[1], key) for key, v in raw.items() if "time.sleep" not in key[2]), reverse=True)[:top]
    for own, calls, (path, line, name) in rows:
        short = path.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        print(f"  {own * 1000 / n:>7.3f} ms/inst {calls / n:>8.1f} calls/inst  {short}:{line}({name})")


def summarize_py_spy(path: Path, n: int, top: int) -> None:
    """py-spy's raw (collapsed) stacks, sampled with --gil (only the thread holding the GIL, i.e. where the
    one core of Python work goes): per function, the share of samples where it is on the stack, and the
    share where it is the innermost Python frame."""
    if not path.exists():
        print("py-spy: no output (is ptrace allowed?)")
        return
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
    print(f"py-spy (500 Hz, --gil: samples of the thread holding the GIL): {total} samples")
    for title, counter in (("on the stack", inclusive), ("leaf (own)", leaf)):
        print(f"  top {top} {title} (share of GIL-holding samples; ms per instance = share x GIL-held time):")
        for frame, count in counter.most_common(top):
            print(f"    {count / total:>6.1%}  {count / 500 * 1000 / n:>6.2f} ms/inst  {frame}")


def association_setup(base: Path, count: int = 20) -> None:
    """Median associate / C-ECHO / release times from a pynetdicom SCU: mie's SCP and dcmtk's storescp."""
    import statistics

    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    def measure(port: int) -> tuple[float, float, float]:
        steps: list[tuple[float, float, float]] = []
        for _ in range(count):
            ae = AE(ae_title=bench.CALLING_AE)
            ae.add_requested_context(Verification)
            started = time.perf_counter()
            assoc = ae.associate("127.0.0.1", port, ae_title=bench.CALLED_AE)
            associated = time.perf_counter()
            if not assoc.is_established:
                raise RuntimeError(f"association to port {port} refused")
            assoc.send_c_echo()
            echoed = time.perf_counter()
            assoc.release()
            steps.append((associated - started, echoed - associated, time.perf_counter() - echoed))
        return tuple(statistics.median(step[i] for step in steps) * 1000 for i in range(3))  # type: ignore[return-value]

    work = Path(tempfile.mkdtemp(prefix="profile-associations-", dir=base))
    runtime, scp = open_processor(work, generate_uid(), 1)
    try:
        mie = measure(scp.port)
    finally:
        scp.stop()
        runtime.database.dispose()
    port = bench.free_port()
    (work / "out").mkdir()
    storescp = subprocess.Popen(
        [str(bench.DCMTK / "storescp"), "+xa", "-od", str(work / "out"), str(port)],
        env=bench.DCMTK_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        dcmtk = measure(port)
    finally:
        storescp.terminate()
        storescp.wait()
    print(f"\n=== association set-up from a pynetdicom SCU, median of {count} (ms): associate / C-ECHO / release")
    print(f"  mie SCP   {mie[0]:7.1f} / {mie[1]:5.1f} / {mie[2]:5.1f}")
    print(f"  storescp  {dcmtk[0]:7.1f} / {dcmtk[1]:5.1f} / {dcmtk[2]:5.1f}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("timers", "cprofile", "none"), default="timers")
    parser.add_argument("--corpus", default="small,real", help="comma-separated: small, real")
    parser.add_argument("--associations", default="1,4", help="comma-separated: 1, 4")
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="directory to keep the .pstats files in")
    parser.add_argument("--py-spy", default=None, help="path to a py-spy binary: also record a sampling profile")
    parser.add_argument("--no-associations", action="store_true", help="skip the association set-up timing")
    parser.add_argument(
        "--workdir",
        default="/var/tmp",
        help="where every receiver's files go (default /var/tmp: on these machines creating a file under /tmp "
        "costs about 1.2 ms of kernel CPU, 20 times what it costs elsewhere on the same disk)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"profile: mie code {bench.code_state()}")
    with tempfile.TemporaryDirectory(prefix="mie-cstore-profile-", dir=args.workdir) as tmp:
        base = Path(tmp)
        cfg = Path(shutil.copy(bench.STORESCU_CFG, base / "storescu.cfg"))
        if args.mode == "timers":
            install_timers()
        for corpus_name in args.corpus.split(","):
            for associations in map(int, args.associations.split(",")):
                run_once(args, corpus_name, associations, base, cfg)
        if not args.no_associations:
            association_setup(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
