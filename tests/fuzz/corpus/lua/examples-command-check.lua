-- Example check file (copy to /etc/medic/checks.d/): conditions that are a command's exit
-- status. command_check declares a check that runs the argument vector (no shell) and is
-- ok when it exits with ok_status (default 0), problem otherwise, with stdout/stderr in the
-- details; a program that cannot be started makes it unknown.
command_check "system-running" {
  "/usr/bin/systemctl", "is-system-running",
  every = "1m", timeout = "30s",
}

command_check "chrony-active" {
  "/usr/bin/systemctl", "is-active", "--quiet", "chrony.service",
  every = "5m",
}
