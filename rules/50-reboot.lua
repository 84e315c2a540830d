-- Reboot when packages or the kernel ask for it. Disruptive: it needs the coordinator's
-- permission, and the shipped configuration runs in dry-run, so this only logs until an
-- operator sets dry_run = no.
rule "reboot-required" {
  when   = "reboot-required",
  remedy = reboot { methods = { "systemd", "sysrq", "watchdog" } },
  limit  = "1/24h",
}

rule "kernel-modules-missing" {
  when   = "kernel-modules",
  holds  = "10m",
  remedy = reboot { methods = { "systemd", "sysrq", "watchdog" } },
  limit  = "1/24h",
}
