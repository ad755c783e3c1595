"""Runs a sharded worldhost job on a Ray cluster.

Each shard is one Ray task that runs the `host` binary (`host run --job JOB --shard I/N`) on
whichever node Ray picks; a shard whose process fails (non-zero exit, or killed) raises, and
Ray runs the task again, up to `retries` more times. A shard's re-run is idempotent (see
`examples/jobs/README.md`, "Sharded jobs"), so a retry publishes the same keys. When every
task has ended, `host job finish` checks all N reports and writes `_SUCCESS` only if every
shard succeeded.

The host binary and the job file must be at the same paths on every node (or on a shared
filesystem), and each node needs the store credentials in its environment (or in `env`).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess

import ray

__all__ = ["ShardFailed", "Outcome", "run_sharded"]


class ShardFailed(Exception):
    """A shard's `host run` exited non-zero or was killed."""

    def __init__(self, index: int, code: int, stderr: str):
        self.index, self.code, self.stderr = index, code, stderr
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        # The host's own `error: ...` line, not the end of a trap's backtrace.
        lines = stderr.strip().splitlines()
        said = [line for line in lines if line.startswith("error: ")] or lines[-1:] or ["(no output)"]
        super().__init__(f"shard {index}: {how}: {said[0]}")

    def __reduce__(self):
        # Raised on a worker, re-raised on the driver: pickled with its arguments.
        return (ShardFailed, (self.index, self.code, self.stderr))


@dataclasses.dataclass
class Outcome:
    """How a sharded run ended."""

    #: Whether `host job finish` found every shard succeeded (and wrote `_SUCCESS`).
    succeeded: bool
    #: Shard index -> the last error of a shard that failed all its attempts.
    failed: dict[int, str]
    #: What `host job finish` printed (its one line on failure).
    finish_output: str


@ray.remote
def _run_shard(host: str, job: str, index: int, count: int, env: dict[str, str]) -> int:
    done = subprocess.run(
        [host, "run", "--job", job, "--shard", f"{index}/{count}"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    if done.returncode != 0:
        raise ShardFailed(index, done.returncode, done.stderr)
    return index


def run_sharded(
    job: str,
    shards: int,
    host: str = "host",
    retries: int = 3,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Runs shards 0..shards-1 of `job` as Ray tasks (Ray must be initialised), each retried
    up to `retries` times, then `host job finish`."""
    if shards < 1:
        raise ValueError(f"a job is split into at least 1 shard, not {shards}")
    env = dict(env or {})
    job = os.path.abspath(job)
    task = _run_shard.options(max_retries=retries, retry_exceptions=True)
    pending = {task.remote(host, job, index, shards, env): index for index in range(shards)}
    failed = {}
    for ref, index in pending.items():
        try:
            ray.get(ref)
        except Exception as error:  # a ShardFailed, or Ray's own error for a lost worker
            failed[index] = str(error).strip().splitlines()[-1]
    finish = subprocess.run(
        [host, "job", "finish", job, "--shards", str(shards)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        errors="replace",
    )
    return Outcome(
        succeeded=finish.returncode == 0 and not failed,
        failed=failed,
        finish_output=(finish.stderr + finish.stdout).strip(),
    )
