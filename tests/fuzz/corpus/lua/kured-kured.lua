-- The kured pack: Kubernetes node reboots the way kured (the Kubernetes reboot daemon) does
-- them, with medicd on every node and etcd as the coordinator instead of a DaemonSet lock.
--
--   * A reboot when the sentinel says so: the shipped reboot-sentinel check runs a command of
--     the operator's; this pack ships one, need-reboot, which says yes when
--     /var/run/reboot-required exists, when a process still maps a deleted shared library, or
--     when the running kernel's modules are gone (medic-checks(7)).
--   * Cordon and drain before, uncordon after: the pre-reboot and post-reboot tasks are the
--     kubectl scripts of the kubernetes pack (../kubernetes/10-cordon-drain, 90-uncordon);
--     the uncordon is also the abort task, for a reboot called off after the drain.
--   * One node of the group at a time: max_unavailable = 1 in [coordinator].
--   * Never while chosen Prometheus alerts fire: the shipped prometheus-alerts check is a
--     blocker (unless); its settings select the alerts and exclude the ones that always fire.
--   * Only in a weekly window: Sunday 02:00-06:00 in the node's local time (edit the line
--     below; a list of windows means any of them, see WINDOWS in medic-lua(7)).
--
-- Install (the examples are in /usr/share/medic/examples/):
--   install -m 0644 /usr/share/medic/examples/kured/kured.lua /etc/medic/rules.d/50-reboot.lua
--       (the same base name as the shipped rules/50-reboot.lua replaces them: the sentinel
--       covers reboot-required and the missing kernel modules, and their rules would reboot
--       outside the window and while alerts fire)
--   install -m 0644 /usr/share/medic/examples/kured/reboot-sentinel.conf \
--                   /usr/share/medic/examples/kured/prometheus-alerts.conf /etc/medic/
--       (then edit the Prometheus url and the alert selection)
--   install -m 0755 /usr/share/medic/examples/kubernetes/10-cordon-drain /etc/medic/pre-reboot.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/90-uncordon /etc/medic/post-reboot.d/
--   install -m 0755 /usr/share/medic/examples/kubernetes/90-uncordon /etc/medic/abort.d/
--   medicctl lint /usr/share/medic/checks /etc/medic/checks.d /etc/medic/rules.d
--   medicctl reload; medicctl explain kured-reboot
--
-- medic.conf (the parts this pack needs; medic.conf(5)):
--   [medic]
--   settings_dir = /etc/medic          # reboot-sentinel.conf, prometheus-alerts.conf
--   dry_run = no                       # after reviewing medicctl history
--   [coordinator]
--   backend = etcd
--   endpoints = https://etcd-0:2379, https://etcd-1:2379, https://etcd-2:2379
--   max_unavailable = 1                # one node of the group at a time
--   [reboot]
--   pre_reboot_dir = /etc/medic/pre-reboot.d     # cordon, drain
--   post_reboot_dir = /etc/medic/post-reboot.d   # uncordon
--   abort_dir = /etc/medic/abort.d               # uncordon
--   # methods = ... : the node's ladder, not the rule's (the hardware decides)
--
-- tests/integration/pack-kured.sh runs this pack on three nodes and a real etcd.
rule "kured-reboot" {
  when   = "reboot-sentinel",
  remedy = reboot {},
  unless = { "prometheus-alerts" },
  window = "Sun 02:00-06:00",
  limit  = "1/24h",
}
