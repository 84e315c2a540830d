-- The staged pack: staged maintenance of sets of interchangeable machines, in the spirit of an
-- in-house "automainter": each set is a medic group, at most 10% of a set is in maintenance at
-- once, and the three indicator kinds are conditions (staged-checks.lua):
--
--   * maintenance required: package updates are pending (maintenance-required: the pack's
--     updates-pending), or a newer kernel is installed (the shipped newer-kernel check, which
--     needs a reboot: staged-kernel below);
--   * blocked: automation is disabled for the node's machine type (automation-disabled: the
--     label "type"), someone is logged in (the shipped interactive-login), an uninterruptible
--     job runs (uninterruptible-job);
--   * unavailable: the node's health (node-health, a health check: published to the
--     coordinator, it counts against the set's budget) — and, through the group view, any
--     other member of the set that is unavailable holds the rest of the set back
--     (set-unavailable);
--   * after a maintenance the node stays unavailable for a settle time: the maintenance's
--     settle keeps the permission after the undrain tasks until node-health, checked afresh,
--     has been ok for 30 minutes, so the next node of the set waits; not healthy within
--     settle_timeout, the node came back sick (escalated, the permission still kept). A
--     reboot settles the same way: [reboot] settle;
--   * a node that waits too long is escalated: [reboot] stuck_after (the notify command hears
--     waiting-too-long).
--
-- Install (the examples are in /usr/share/medic/examples/):
--   install -m 0644 /usr/share/medic/examples/staged/staged-checks.lua /etc/medic/checks.d/
--   install -m 0644 /usr/share/medic/examples/staged/staged.lua /etc/medic/rules.d/60-staged.lua
--   install -m 0755 /usr/share/medic/examples/staged/apply-updates /etc/medic/staged/drain.d/50-apply-updates
--   (your own drain tasks go before 50-apply-updates, your undrain tasks in /etc/medic/staged/undrain.d)
--   medicctl lint /usr/share/medic/checks /etc/medic/checks.d /etc/medic/rules.d
--   medicctl reload; medicctl explain staged-updates
--
-- medic.conf (the parts this pack needs; medic.conf(5)):
--   [medic]
--   group = web-frontend               # the set
--   labels = type=web                  # the machine type automation-disabled looks at
--   [coordinator]
--   backend = etcd
--   endpoints = https://etcd-0:2379, https://etcd-1:2379, https://etcd-2:2379
--   max_unavailable = 10%              # of the set's members, at least 1
--   [reboot]
--   stuck_after = 12h                  # escalate a node waiting longer than this
--   notify_command = /usr/local/sbin/page-oncall
--
-- tests/integration/pack-staged.sh runs this pack on four nodes in two sets and a real etcd;
-- tests/rules/staged.test.lua has its unit tests.
local BLOCKERS = { "automation-disabled", "interactive-login", "uninterruptible-job", "set-unavailable" }

rule "staged-updates" {
  when   = "maintenance-required",
  holds  = "10m",
  remedy = maintenance { drain = "/etc/medic/staged/drain.d", undrain = "/etc/medic/staged/undrain.d",
                         settle = "30m", settle_timeout = "2h" },
  unless = BLOCKERS,
  limit  = "2/24h",
}

rule "staged-kernel" {
  when   = "newer-kernel",
  holds  = "10m",
  remedy = reboot {},
  unless = BLOCKERS,
  limit  = "1/24h",
}
