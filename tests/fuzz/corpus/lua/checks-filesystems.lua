-- filesystems: local filesystems that are nearly full or were remounted read-only
-- (errors=remount-ro) while /etc/fstab mounts them read-write.
local LOCAL = { ext2 = true, ext3 = true, ext4 = true, xfs = true, btrfs = true,
                vfat = true, f2fs = true, zfs = true }
local FULL_PERCENT = 95

local function fstab_rw()
  local rw = {}
  for _, line in ipairs(medic.lines("/etc/fstab") or {}) do
    local _, mnt, _, opts = line:match("^%s*([^#%s]+)%s+(%S+)%s+(%S+)%s+(%S+)")
    if mnt then
      local ro = false
      for o in opts:gmatch("[^,]+") do if o == "ro" then ro = true end end
      rw[mnt] = not ro
    end
  end
  return rw
end

check "filesystems" {
  every = "1m",
  timeout = "20s",
  run = function()
    local mounts = medic.lines("/proc/self/mounts")
    if not mounts then return unknown("cannot read /proc/self/mounts") end
    local rw = fstab_rw()
    local full, readonly, seen = {}, {}, 0
    for _, line in ipairs(mounts) do
      local _, mnt, fstype, opts = line:match("^(%S+)%s+(%S+)%s+(%S+)%s+(%S+)")
      if mnt and LOCAL[fstype] then
        seen = seen + 1
        mnt = mnt:gsub("\\040", " ")
        local ro = (","..opts..","):find(",ro,", 1, true) ~= nil
        if ro and rw[mnt] then readonly[#readonly + 1] = mnt end
        local sv = medic.statvfs(mnt)
        if sv and sv.size > 0 then
          local used = math.floor((sv.size - sv.avail) * 100 / sv.size + 0.5)
          if used >= FULL_PERCENT then full[#full + 1] = { mount = mnt, used_percent = used } end
        end
      end
    end
    if seen == 0 then return skip("no local filesystems") end
    if #readonly > 0 or #full > 0 then
      local parts = {}
      if #readonly > 0 then parts[#parts + 1] = "read-only: " .. table.concat(readonly, ", ") end
      for _, f in ipairs(full) do parts[#parts + 1] = f.mount .. " " .. f.used_percent .. "% full" end
      return problem(table.concat(parts, "; "), { readonly = readonly, full = full })
    end
    return ok(seen .. " local filesystems fine")
  end,
}
