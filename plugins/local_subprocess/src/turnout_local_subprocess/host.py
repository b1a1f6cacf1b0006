"""What this host allows the backend, decided once at construction, as the options ask.

Each of the cgroup jail, the namespaces and the unprivileged identity is "auto" (used
where a probe shows it works, and logged where it does not), true (a `ConfigurationError`
where it does not) or false (not used). The identity needs the namespaces: it is the
namespace's init that switches to it, inside the private mount namespace that keeps the
interpreter reachable.
"""

from __future__ import annotations

from turnout.errors import ConfigurationError
from turnout.logging import get_logger
from turnout_local_subprocess import cgroups, isolation, mounts
from turnout_local_subprocess.isolation import Namespaces
from turnout_local_subprocess.options import BACKEND_ID, LocalSubprocessOptions

__all__ = ["select_cgroups", "select_namespaces"]

logger = get_logger("turnout.local_subprocess")


def select_cgroups(options: LocalSubprocessOptions) -> cgroups.CgroupHost | None:
    if options.use_cgroups is False:
        return None
    host = cgroups.probe()
    if host is None and options.use_cgroups is True:
        raise ConfigurationError(
            f"the {BACKEND_ID} backend has use_cgroups = true, but cgroup v1 memory at "
            f"{cgroups.CGROUP_MOUNT / 'memory'} is missing or not writable; run as a user "
            'that may create cgroups there, or set use_cgroups = "auto" or false'
        )
    if host is not None:
        for name in cgroups.sweep_stale(host):
            logger.info("stale_cgroup_removed", cgroup=name)
    return host


def select_namespaces(options: LocalSubprocessOptions) -> Namespaces | None:
    if options.isolate_processes is False:
        if options.drop_privileges is True:
            raise ConfigurationError(
                f"the {BACKEND_ID} backend has drop_privileges = true, which needs each "
                "program's own mount namespace, but isolate_processes = false; set "
                'isolate_processes to "auto" or true, or drop_privileges to "auto" or false'
            )
        return None
    namespaces, problem = isolation.find()
    if namespaces is None and options.isolate_processes is True:
        raise ConfigurationError(
            f"the {BACKEND_ID} backend has isolate_processes = true, but programs cannot be "
            f"run in their own PID and mount namespace here: {problem}; run the worker as "
            "root with util-linux unshare and mount installed, or set "
            'isolate_processes = "auto" or false'
        )
    if namespaces is None:
        logger.warning("process_isolation_unavailable", backend=BACKEND_ID, reason=problem)
        problem = f"programs cannot run in their own namespaces here: {problem}"
    elif options.drop_privileges is not False:
        dropped, problem = isolation.drop_privileges(
            namespaces, options.sandbox_uid, options.sandbox_gid
        )
        if dropped is not None:
            for name in mounts.sweep_stale_kits():
                logger.info("stale_kit_removed", kit=name)
            return dropped
    if options.drop_privileges is True:
        raise ConfigurationError(
            f"the {BACKEND_ID} backend has drop_privileges = true, but programs cannot be "
            f"run as uid {options.sandbox_uid} here: {problem}; run the worker as root "
            'with util-linux setpriv installed, or set drop_privileges = "auto" or false'
        )
    if options.drop_privileges == "auto":
        logger.warning("privilege_drop_unavailable", backend=BACKEND_ID, reason=problem)
    return namespaces
