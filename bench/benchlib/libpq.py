"""libpq through ctypes: the same client library pgbench and psql use, driven from Python (stdlib
only) for the two measurements pgbench cannot make: time to first query per connection, and many
connections held open and idle.
"""
import ctypes
import ctypes.util
import statistics
import time

CONNECTION_OK = 0
PGRES_TUPLES_OK = 2

_lib = None


def _libpq():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("pq") or "libpq.so.5"
        lib = ctypes.CDLL(name)
        lib.PQconnectdb.restype = ctypes.c_void_p
        lib.PQconnectdb.argtypes = [ctypes.c_char_p]
        lib.PQstatus.restype = ctypes.c_int
        lib.PQstatus.argtypes = [ctypes.c_void_p]
        lib.PQerrorMessage.restype = ctypes.c_char_p
        lib.PQerrorMessage.argtypes = [ctypes.c_void_p]
        lib.PQexec.restype = ctypes.c_void_p
        lib.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.PQresultStatus.restype = ctypes.c_int
        lib.PQresultStatus.argtypes = [ctypes.c_void_p]
        lib.PQclear.restype = None
        lib.PQclear.argtypes = [ctypes.c_void_p]
        lib.PQfinish.restype = None
        lib.PQfinish.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def conninfo(params):
    """A libpq keyword/value string from a dict (values quoted as libpq requires)."""
    def q(v):
        return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return " ".join(f"{k}={q(v)}" for k, v in params.items())


class Connection:
    def __init__(self, params):
        lib = _libpq()
        self._lib = lib
        self.conn = lib.PQconnectdb(conninfo(params).encode())
        if not self.conn or lib.PQstatus(self.conn) != CONNECTION_OK:
            msg = lib.PQerrorMessage(self.conn).decode(errors="replace") if self.conn else "no memory"
            self.close()
            raise RuntimeError(f"connect failed: {msg.strip()}")

    def query_ok(self, sql):
        res = self._lib.PQexec(self.conn, sql.encode())
        try:
            if self._lib.PQresultStatus(res) != PGRES_TUPLES_OK:
                msg = self._lib.PQerrorMessage(self.conn).decode(errors="replace")
                raise RuntimeError(f"query {sql!r} failed: {msg.strip()}")
        finally:
            if res:
                self._lib.PQclear(res)

    def close(self):
        if self.conn:
            self._lib.PQfinish(self.conn)
            self.conn = None


def time_to_first_query(params, samples, deadline):
    """Connect, run SELECT 1, disconnect, `samples` times one after another (stopping at `deadline`,
    a time.monotonic() value). Returns the list of durations in milliseconds."""
    out = []
    for _ in range(samples):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        c = Connection(params)
        try:
            c.query_ok("SELECT 1")
            out.append((time.perf_counter() - t0) * 1000.0)
        finally:
            c.close()
    if not out:
        raise RuntimeError("no connection completed before the deadline")
    return out


def median(values):
    return statistics.median(values) if values else float("nan")


class IdleSessions:
    """Opens n sessions (each runs SELECT 1 so every hop has a live backend), keeps them idle."""

    def __init__(self, params):
        self.params = params
        self.conns = []

    def open(self, n, deadline):
        for i in range(n):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {i} of {n} idle sessions opened before the deadline")
            c = Connection(self.params)
            self.conns.append(c)
            c.query_ok("SELECT 1")
        return len(self.conns)

    def close(self):
        for c in self.conns:
            c.close()
        self.conns = []
