-- Example rules (copy to /etc/medic/rules.d/): restart containerd up to 3 times an hour,
-- then escalate to a reboot, inside the night window. On Kubernetes nodes use the kubernetes
-- pack instead (kubernetes/auto-healing.lua: containerd and the kubelet restarted, the node
-- drained around the reboot).
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
