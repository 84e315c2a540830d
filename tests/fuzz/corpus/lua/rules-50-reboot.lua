-- Reboot when packages or the kernel ask for it. Disruptive: it needs the coordinator's
-- permission, and the shipped configuration runs in dry-run, so this only logs until an
-- operator sets dry_run = no. reboot {} climbs the node's ladder ([reboot] methods in
-- medic.conf): the order is a property of the hardware, not of the rule.
rule "reboot-required" {
  when   = "reboot-required",
  remedy = reboot {},
  limit  = "1/24h",
}

rule "kernel-modules-missing" {
  when   = "kernel-modules",
  holds  = "10m",
  remedy = reboot {},
  limit  = "1/24h",
}
