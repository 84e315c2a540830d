-- The kubernetes pack: auto-healing of Kubernetes nodes, each step coordinated through etcd.
--
--   * A container runtime that does not answer for 5 minutes (the containerd-unresponsive
--     check of ../containerd-check.lua) first gets a command, restart-runtime (containerd and
--     the kubelet restarted); if the runtime still does not answer 10 minutes later, the rule
--     is exhausted (limit 1/1h) and escalates to a reboot.
--   * An IPMI hardware failure (the shipped ipmi checks' ipmi-critical) takes the node out of
--     service with ../hardware-maintenance.lua: the drain tasks cordon and drain it, it stays
--     out while the sensor is critical, and once it is repaired the undrain tasks uncordon it.
--   * At most 2 nodes of the group out at once, and nothing that leaves fewer than 90% of the
--     members healthy: max_unavailable and min_healthy in [coordinator]. A percentage is of
--     the registered members and min_healthy rounds up: with 90% a group needs 10 members
--     before one may be out, 20 before two may (medic.conf(5)).
--   * The reboot climbs the node's ladder, sysrq before the watchdog ([reboot] methods): the
--     rules never pin it.
--
-- Install (the examples are in /usr/share/medic/examples/); instead of ../containerd-rules.lua,
-- which restarts containerd alone and reboots in a nightly window:
--   install -m 0644 /usr/share/medic/examples/containerd-check.lua /etc/medic/checks.d/
--   install -m 0644 /usr/share/medic/examples/kubernetes/auto-healing.lua /etc/medic/rules.d/60-kubernetes.lua
--   install -m 0644 /usr/share/medic/examples/hardware-maintenance.lua /etc/medic/rules.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/10-cordon-drain /etc/medic/drain.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/10-cordon-drain /etc/medic/pre-reboot.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/90-uncordon /etc/medic/undrain.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/90-uncordon /etc/medic/post-reboot.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/90-uncordon /etc/medic/abort.d/
--   medicctl lint /usr/share/medic/checks /etc/medic/checks.d /etc/medic/rules.d
--   medicctl reload; medicctl explain runtime-restart
--
-- medic.conf (the parts this pack needs; medic.conf(5)):
--   [medic]
--   checks = /usr/share/medic/checks /etc/medic/checks.d     # ipmi.lua: ipmi-critical
--   dry_run = no                       # after reviewing medicctl history
--   [coordinator]
--   backend = etcd
--   endpoints = https://etcd-0:2379, https://etcd-1:2379, https://etcd-2:2379
--   max_unavailable = 2
--   min_healthy = 90%
--   [reboot]
--   methods = sysrq watchdog           # the node's ladder: sysrq first, the watchdog if it hangs
--   pre_reboot_dir = /etc/medic/pre-reboot.d     # cordon, drain
--   post_reboot_dir = /etc/medic/post-reboot.d   # uncordon
--   abort_dir = /etc/medic/abort.d               # uncordon
--
-- tests/integration/pack-kubernetes.sh runs this pack on three nodes and a real etcd.
rule "runtime-restart" {
  when     = "containerd-unresponsive",
  holds    = "5m",
  remedy   = command { "/usr/share/medic/examples/kubernetes/restart-runtime", timeout = "3m" },
  limit    = "1/1h",
  retry    = "10m",
  escalate = "runtime-reboot",
}

rule "runtime-reboot" {
  remedy = reboot {},
  limit  = "1/24h",
}
