#!/bin/bash
# SPDX-License-Identifier: MIT
# medic.json_decode and medic.json_encode as medic-lua(7) describes them: the Lua types
# JSON values become (null as nil), the errors for bad text (and that good text passes),
# the nesting limits, arrays and objects on the way out, the values that cannot be encoded.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

write_file "$T/checks/10-json.lua" <<'EOF'
local function show(...)
  local n, out = select("#", ...), {}
  for i = 1, n do
    local v = select(i, ...)
    out[i] = math.type(v) or type(v) == "string" and string.format("%q", v) or tostring(v)
  end
  return table.concat(out, " ")
end
local function raises(f, ...)
  local good, err = pcall(f, ...)
  return good and "no error" or ("error: " .. tostring(err))
end

check "json" {
  every = "1h",
  run = function()
    local r = {}
    local d = medic.json_decode('{"a":1,"b":[1,null,3],"c":null,"f":1.5,"t":true,"s":"x"}')
    r.types = show(d.a, d.f, d.t, d.s, d.c, d.b[1], d.b[2], d.b[3], #d.b == 3 or #d.b == 1)
    r.null = show(medic.json_decode("null"))
    r.scalars = show(medic.json_decode("12"), medic.json_decode(" true\n"), medic.json_decode("1.5"))
    r.nul = show(medic.json_decode("[1]\0"))
    r.empty_text = show(medic.json_decode(""))
    r.trailing = show(medic.json_decode("[1,2] x"))
    r.truncated = show(medic.json_decode('{"a":'))
    r.depth64 = show(type(medic.json_decode(string.rep("[", 64) .. string.rep("]", 64))))
    r.depth65 = show(medic.json_decode(string.rep("[", 65) .. string.rep("]", 65)))
    r.array = medic.json_encode({ 1, 2, "x" })
    r.empty = medic.json_encode({})
    r.object = medic.json_encode({ node = "web1" })
    r.holes = medic.json_encode({ [2] = "b" })
    r.nested = medic.json_encode({ ids = { 1.5, true } })
    r.nil_ = medic.json_encode(nil)
    r.fn = raises(medic.json_encode, { f = print })
    local cyc = {}; cyc.self = cyc
    r.cycle = raises(medic.json_encode, cyc)
    local function nest(n) local t = {} for _ = 2, n do t = { t } end return t end
    r.deep33 = raises(medic.json_encode, nest(33))
    r.deep34 = raises(medic.json_encode, nest(34))
    return ok("done", r)
  end,
}
EOF
start_medicd
ok "the json check ran" wait_cond json ok 5
j() { cond_get json "c[\"details\"][\"$1\"]"; }
is "$(j types)" 'integer float true "x" nil integer nil integer true' \
   "decode: integers stay integers, floats, booleans, strings; null is nil (a member absent, an array hole)"
is "$(j null)" nil "decode: the document null is nil, without an error"
is "$(j scalars)" "integer true float" "decode: a document that is a number or a boolean"
like "$(j nul)" '^nil "invalid JSON: ' "decode: a NUL byte after the document is a trailing character"
like "$(j empty_text)" '^nil "invalid JSON: ' "decode: empty text: nil, err"
is "$(j trailing)" 'nil "invalid JSON: trailing characters"' "decode: trailing characters: nil, err"
like "$(j truncated)" '^nil "invalid JSON: ' "decode: truncated text: nil, err"
is "$(j depth64)" '"table"' "decode: 64 levels of nesting decode"
like "$(j depth65)" '^nil "invalid JSON: ' "decode: 65 levels do not"
is "$(j array)" '[1,2,"x"]' "encode: a sequence is an array"
is "$(j empty)" '{}' "encode: the empty table is an object"
is "$(j object)" '{"node":"web1"}' "encode: string keys, an object"
is "$(j holes)" '{"2":"b"}' "encode: keys that are not 1..n: an object with string keys"
is "$(j nested)" '{"ids":[1.5,true]}' "encode: nested values"
is "$(j nil_)" 'null' "encode: nil is null"
like "$(j fn)" '^error: .*medic.json_encode: cannot store a function' "encode: a function raises an error"
like "$(j cycle)" '^error: .*nested too deeply \(or a cycle\)' "encode: a cycle raises an error"
is "$(j deep33)" 'no error' "encode: 33 levels of tables are fine"
like "$(j deep34)" '^error: .*nested too deeply' "encode: 34 levels raise an error"
stop_medicd
done_testing
