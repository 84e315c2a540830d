-- The openstack pack: reboots with constraints in an OpenStack-like cloud (gateways,
-- controllers, computes in one medic group, their role a label), in the spirit of
-- rebootmgr, with etcd as the coordinator instead of Consul.
--
--   * Triggers: the shipped reboot-request check: a flag file (/etc/medic/reboot-request), the
--     coordinator's reboot request (medicctl coordinator request-reboot NODE) and an operator
--     on the node (medicctl request reboot).
--   * One node of the cloud at a time: max_unavailable = 1 in [coordinator].
--   * Never the last healthy gateway (last-gateway); never a controller when fewer than 3
--     controllers are healthy (controller-quorum) or its cluster services report unhealthy
--     (cluster-services); never a compute with running VMs (running-vms: the pre-reboot tasks
--     disable and evacuate it, and a VM that is still there calls the reboot off); never with
--     dkms broken (the shipped dkms check); never while packages are updating
--     (packages-updating). openstack-checks.lua has them and their settings.
--   * Tasks: 10-disable-compute and 20-evacuate before the reboot, enable-compute after it and
--     when it is called off (abort.d). On a node that is no nova-compute they do nothing.
--
-- Install (the examples are in /usr/share/medic/examples/):
--   install -m 0644 /usr/share/medic/examples/openstack/openstack-checks.lua /etc/medic/checks.d/
--   install -m 0644 /usr/share/medic/examples/openstack/openstack.lua /etc/medic/rules.d/50-reboot.lua
--       (the same base name as the shipped rules/50-reboot.lua replaces them: their reboots
--       would not wait for these constraints)
--   install -m 0755 /usr/share/medic/examples/openstack/10-disable-compute \
--                   /usr/share/medic/examples/openstack/20-evacuate /etc/medic/pre-reboot.d/
--   install -m 0755 /usr/share/medic/examples/openstack/enable-compute /etc/medic/post-reboot.d/90-enable-compute
--   install -m 0755 /usr/share/medic/examples/openstack/enable-compute /etc/medic/abort.d/90-enable-compute
--   medicctl lint /usr/share/medic/checks /etc/medic/checks.d /etc/medic/rules.d
--   medicctl reload; medicctl explain cloud-reboot
--
-- medic.conf (the parts this pack needs; medic.conf(5)):
--   [medic]
--   group = cloud-1                    # every node of the cloud
--   labels = role=compute              # or gateway, controller
--   [coordinator]
--   backend = etcd
--   endpoints = https://etcd-0:2379, https://etcd-1:2379, https://etcd-2:2379
--   max_unavailable = 1                # one node of the cloud at a time
--   [reboot]
--   pre_reboot_dir = /etc/medic/pre-reboot.d     # disable, evacuate
--   post_reboot_dir = /etc/medic/post-reboot.d   # enable
--   abort_dir = /etc/medic/abort.d               # enable
--
-- tests/integration/pack-openstack.sh runs this pack on four nodes and a real etcd;
-- tests/rules/openstack.test.lua has its unit tests.
rule "cloud-reboot" {
  when   = "reboot-request",
  remedy = reboot {},
  unless = { "last-gateway", "controller-quorum", "cluster-services", "running-vms", "dkms",
             "packages-updating" },
  limit  = "2/24h",
}
