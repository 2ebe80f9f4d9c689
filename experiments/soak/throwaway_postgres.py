"""A throwaway PostgreSQL server for the soaks: initdb in a temporary folder, a Unix socket only (no TCP), fsync off,
run as the postgres user when we are root; stopped (immediate) and its folder left to the caller to remove."""
import contextlib
import glob
import os
import shutil
import subprocess


class Server:
    """A running server: url(database) names a database on it; query(database, sql) returns its rows as tuples of
    text (psql's unaligned output)."""

    def __init__(self, folder):
        self.folder = folder

    def url(self, database):
        return f"postgresql://postgres@/{database}?host={self.folder}"

    def create(self, database):
        self._psql("postgres", f"CREATE DATABASE {database}")

    def query(self, database, sql):
        out = self._psql(database, sql)
        return [tuple(line.split("\x1f")) for line in out.splitlines()]

    def _psql(self, database, sql):
        return subprocess.run(["psql", "-q", "-X", "-h", self.folder, "-U", "postgres", "-d", database, "-At", "-F",
                               "\x1f", "-c", sql], check=True, capture_output=True, text=True).stdout


@contextlib.contextmanager
def throwaway_server(folder):
    """Yields a Server running in `folder` (which must exist), or None when PostgreSQL's server is not installed."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda b: [int(x) for x in b.split("/")[4].split(".")])
    if not bins or shutil.which("psql") is None:
        yield None
        return
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_owner:
        shutil.chown(folder, "postgres")
    data = os.path.join(folder, "data")
    quiet = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(as_owner + [bins[-1] + "/initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", data], **quiet)
    subprocess.run(as_owner + [bins[-1] + "/pg_ctl", "-w", "-D", data, "-l", os.path.join(folder, "log"), "-o",
                               f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections=60", "start"], **quiet)
    try:
        yield Server(folder)
    finally:
        subprocess.run(as_owner + [bins[-1] + "/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
