-- Example rules (copy to /etc/medic/rules.d/): restart containerd up to 3 times an hour,
-- then escalate to a reboot, outside interactive sessions and inside the night window.
rule "restart-containerd" {
  when     = "containerd-unresponsive",
  holds    = "2m",
  remedy   = restart "containerd.service",
  limit    = "3/1h",
  retry    = "5m",
  escalate = "reboot-for-containerd",
}

rule "reboot-for-containerd" {
  remedy = reboot {},
  window = "daily 01:00-05:00",
  limit  = "1/24h",
}
