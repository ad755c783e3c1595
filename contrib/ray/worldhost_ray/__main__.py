"""`python -m worldhost_ray JOB --shards N [--host PATH] [--address ADDR] [--retries K]`"""

import argparse
import sys

import ray

from . import run_sharded


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m worldhost_ray",
        description="Run a sharded worldhost job, one Ray task per shard, then `host job finish`.",
    )
    parser.add_argument("job", help="the job file (the same path on every node)")
    parser.add_argument("--shards", type=int, required=True, help="how many shards")
    parser.add_argument("--host", default="host", help="the host binary on the nodes")
    parser.add_argument("--address", default=None, help="the Ray cluster (default: ray.init's)")
    parser.add_argument("--retries", type=int, default=3, help="retries of a failed shard")
    args = parser.parse_args()
    ray.init(address=args.address)
    outcome = run_sharded(args.job, args.shards, host=args.host, retries=args.retries)
    for index, error in sorted(outcome.failed.items()):
        print(f"shard {index} failed: {error}", file=sys.stderr)
    print(outcome.finish_output, file=sys.stderr)
    return 0 if outcome.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
