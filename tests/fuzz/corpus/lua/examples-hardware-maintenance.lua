-- Example rule (copy to /etc/medic/rules.d/): a Critical IPMI sensor takes the node out of
-- service with the coordinator's permission: the drain tasks run (see kubernetes/ for
-- kubectl cordon/drain), the node stays out while the sensor is Critical, and once the
-- hardware is repaired the undrain tasks run and the permission is given back. Part of the
-- kubernetes pack (kubernetes/auto-healing.lua says how to install it with the kubectl tasks).
rule "hardware-failure" {
  when   = "ipmi-critical",
  holds  = "2m",
  remedy = maintenance { drain = "/etc/medic/drain.d", undrain = "/etc/medic/undrain.d" },
  limit  = "1/24h",
}
