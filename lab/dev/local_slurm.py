"""``python -m lab.dev.local_slurm start|stop|status``: a one-node SLURM cluster on this machine, to run the SLURM paths for real.

    python -m lab.dev.local_slurm start --install     # as root: apt-get install slurm-wlm munge if missing, then start
    python -m ablations.train -m variant=original,no_qk_norm hydra/launcher=slurm_cpu trainer.accelerator=cpu ...
    python -m lab.dev.local_slurm stop

``start`` is idempotent: when ``scontrol ping`` answers and this host's node is up, it does nothing. Otherwise it
writes ``/etc/slurm/slurm.conf`` (this host as controller and as the only node, every core and all memory in
partition ``debug``, no accounting, jobs requeueable), makes a munge key if there is none, starts ``munged``,
``slurmctld`` and ``slurmd``, and waits until the node is idle. Debian's ``slurm-wlm`` 22.05 packages; root only.
``stop`` shuts the daemons down (``scontrol shutdown``, then munged).
"""

import argparse
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from lab.config.errors import UserError, exit_on_user_error

CONF = Path("/etc/slurm/slurm.conf")
PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
PARTITION = "debug"


def slurm_conf(host: str, cpus: int, memory_mb: int) -> str:
    """The cluster's ``slurm.conf``: ``host`` is controller and node."""
    return "\n".join([
        "ClusterName=local", f"SlurmctldHost={host}", "AuthType=auth/munge", "SlurmUser=root",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none", "ReturnToService=2",
        "SchedulerType=sched/backfill", "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "JobRequeue=1", "KillWait=10", "AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none",
        "StateSaveLocation=/var/spool/slurmctld", "SlurmdSpoolDir=/var/spool/slurmd",
        "SlurmctldPidFile=/run/slurmctld.pid", "SlurmdPidFile=/run/slurmd.pid",
        "SlurmctldLogFile=/var/log/slurm/slurmctld.log", "SlurmdLogFile=/var/log/slurm/slurmd.log",
        f"NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO", "",
    ])


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def installed() -> bool:
    return all(shutil.which(d) or Path("/usr/sbin", d).exists() for d in DAEMONS)


def install() -> None:
    """``apt-get install`` the packages (root, Debian)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise UserError(f"{' '.join(command)} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")


def node_state() -> str | None:
    """This node's state (``idle``, ``alloc``, ``mix``, ...), or ``None`` when the controller does not answer."""
    if not shutil.which("sinfo") or _run("scontrol", "ping", check=False).returncode != 0:
        return None
    proc = _run("sinfo", "-h", "-N", "-o", "%t", check=False)
    return proc.stdout.strip().rstrip("*~#!%$@^-") or None if proc.returncode == 0 else None


def running() -> bool:
    return node_state() in ("idle", "alloc", "mix", "comp")


def _memory_mb() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)


def start(install_missing: bool = False, timeout_s: float = 120) -> str:
    """Start the cluster unless it runs; returns the node's state."""
    if running():
        return str(node_state())
    if os.geteuid() != 0:
        raise UserError("the local SLURM cluster is started as root (it writes /etc/slurm and starts the daemons)")
    if not installed():
        if not install_missing:
            raise UserError(f"SLURM is not installed; apt-get install {' '.join(PACKAGES)} (or pass --install)")
        install()
    host = socket.gethostname().split(".")[0]
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(slurm_conf(host, os.cpu_count() or 1, _memory_mb()))
    for folder in ("/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm", "/run/munge", "/var/lib/munge", "/var/log/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    key = Path("/etc/munge/munge.key")
    if not key.is_file():
        _run("mungekey", "--create", "--keyfile", str(key))
    shutil.chown(key, "munge", "munge")
    key.chmod(0o400)
    for folder in ("/run/munge", "/var/lib/munge", "/var/log/munge", "/etc/munge"):
        shutil.chown(folder, "munge", "munge")
    if _run("pgrep", "-x", "munged", check=False).returncode != 0:
        _run("runuser", "-u", "munge", "--", "/usr/sbin/munged")
    for daemon in ("slurmctld", "slurmd"):
        if _run("pgrep", "-x", daemon, check=False).returncode != 0:
            _run(f"/usr/sbin/{daemon}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = node_state()
        if state == "idle":
            return state
        if state in ("down", "drain", "drng", "unk"):
            _run("scontrol", "update", f"nodename={host}", "state=resume", check=False)
        time.sleep(1)
    raise UserError(f"the local SLURM node did not become idle in {timeout_s:.0f} s (state {node_state()}); see /var/log/slurm/")


def stop() -> None:
    """Shut the daemons down (a cluster that does not run is left as it is)."""
    if shutil.which("scontrol"):
        _run("scontrol", "shutdown", check=False)
    for daemon in DAEMONS:
        _run("pkill", "-x", daemon, check=False)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.dev.local_slurm", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--install", action="store_true", help="start: apt-get install slurm-wlm munge when missing (root)")
    args = parser.parse_args(argv)
    if args.action == "start":
        print(f"local SLURM cluster: node {start(args.install)}, partition {PARTITION}")
    elif args.action == "stop":
        stop()
        print("local SLURM cluster stopped")
    else:
        print(f"local SLURM cluster: {node_state() or 'not running'}")


if __name__ == "__main__":
    main()
