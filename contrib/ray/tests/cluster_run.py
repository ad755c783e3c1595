"""The driver of the Ray test in tests/all/shards.rs: starts a local Ray cluster of several
nodes (`ray.cluster_utils.Cluster`, one CPU each, on this machine), runs each job file given
with `worldhost_ray.run_sharded`, and prints one JSON line per job with its outcome.

usage: cluster_run.py HOST SHARDS RETRIES NODES JOB...
"""

import dataclasses
import json
import os
import sys
import time

# The package, for this driver and for the workers the cluster's nodes start (they inherit
# the environment of the process that starts them).
PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, PACKAGE_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_DIR, os.environ.get("PYTHONPATH")]))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from worldhost_ray import run_sharded  # noqa: E402


def main() -> None:
    host, shards, retries, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    started = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    print(json.dumps({"cluster_up_seconds": time.monotonic() - started,
                      "nodes": len(ray.nodes())}), flush=True)
    try:
        for job in sys.argv[5:]:
            began = time.monotonic()
            outcome = run_sharded(job, shards, host=host, retries=retries)
            line = dataclasses.asdict(outcome)
            line["failed"] = {str(k): v for k, v in line["failed"].items()}
            line.update(job=job, seconds=time.monotonic() - began)
            print(json.dumps(line), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
