-- A deliberately wrong expectation (rule-test.sh checks that it fails, with expected and got).
test "kernel-modules-missing does not wait" {
  files = { "../../checks/kernel-modules.lua", "../../rules/50-reboot.lua" },
}
result { at = "0s", check = "kernel-modules", state = "problem", message = "modules missing" }
expect { at = "5m", fired = "kernel-modules-missing" }
expect { at = "11m", explain = { rule = "kernel-modules-missing", decision = "fire" } }
